import helmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';

/*
 * Response headers for a JSON API. Nothing here is a page, so the CSP forbids everything and no
 * frame may embed us. CORS stays closed: mini-programs call through wx.request, which CORS does
 * not govern, so no Access-Control-* header is ever sent and browsers keep other sites' scripts
 * from reading our answers.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  await app.register(helmet, {
    global: true,
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
    },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
  });
  app.addHook('onRequest', async (_req, reply) => {
    // Answers are per user: no proxy or browser cache may keep them.
    reply.header('cache-control', 'no-store');
  });
}
