import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config';
import { sendError } from './errors';

/*
 * A per-address limit over every request (config.rateLimitMax a minute), refused with a tRPC
 * TOO_MANY_REQUESTS envelope. Each HTTP request counts once, batched or not: the batch size is
 * capped separately. auth.login has its own, tighter limit in src/auth/rate-limit.ts.
 */

const WINDOW_MS = 60_000;
/** Load-balancer probes must neither eat a client's budget nor be refused. */
const UNLIMITED_PATHS = new Set(['/healthz']);

function pathnameOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export async function registerRateLimit(app: FastifyInstance, config: Pick<Config, 'rateLimitMax' | 'maxBatchSize'>): Promise<void> {
  // The plugin only provides the limiter factory here (global: false adds no route hooks); the
  // login limiter uses the same factory and registers the plugin itself if it comes first.
  if (!app.hasDecorator('createRateLimit')) await app.register(rateLimit, { global: false });
  const limiter = app.createRateLimit({
    max: config.rateLimitMax,
    timeWindow: WINDOW_MS,
    // req.ip honours trustProxy: behind a trusted load balancer it is the client, not the balancer.
    keyGenerator: (req) => `all:${normalizeIP(req.ip)}`,
  });
  app.addHook('onRequest', async (req, reply) => {
    if (UNLIMITED_PATHS.has(pathnameOf(req.url))) return;
    const result = await limiter(req);
    if (result.isAllowed || !result.isExceeded) return;
    req.log.warn({ ip: req.ip, max: result.max, windowMs: result.timeWindow }, 'rate limit exceeded');
    reply.header('retry-after', String(result.ttlInSeconds));
    return sendError(
      req,
      reply,
      config,
      429,
      `Too many requests from this address: at most ${result.max} a minute; retry in ${result.ttlInSeconds} s`,
    );
  });
}
