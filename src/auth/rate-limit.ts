import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import { getErrorShape, transformTRPCResponse, TRPCError } from '@trpc/server';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { appRouter } from '../routers/_app';

const LOGIN_PATH = 'auth.login';
const TRPC_PREFIX = '/trpc/';

/** The procedure paths a tRPC HTTP request calls (one, or several joined by commas in a batch). */
export function trpcPaths(url: string): string[] {
  const pathname = url.split('?', 1)[0] ?? '';
  if (!pathname.startsWith(TRPC_PREFIX)) return [];
  let joined = pathname.slice(TRPC_PREFIX.length);
  try {
    joined = decodeURIComponent(joined);
  } catch {
    // tRPC will refuse this URL itself; count it as it stands.
  }
  return joined.split(',');
}

function isBatch(url: string): boolean {
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  return new URLSearchParams(query).get('batch') === '1';
}

/** The body tRPC itself would send for this error, so a stock client decodes it as TRPCClientError. */
function tooManyRequestsBody(req: FastifyRequest, paths: string[], retryAfterSeconds: number): unknown {
  const config = appRouter._def._config;
  const message = `Too many login attempts from this address: wait ${retryAfterSeconds} s before calling auth.login again`;
  const envelope = (path: string) => {
    const error = new TRPCError({ code: 'TOO_MANY_REQUESTS', message });
    const shape = getErrorShape({ config, error, type: 'unknown', path, input: undefined, ctx: undefined });
    // The refusal happens before any procedure runs: a stack trace would only describe this hook.
    const { stack: _stack, ...data } = shape.data as Record<string, unknown>;
    return { error: { ...shape, data } };
  };
  return isBatch(req.url)
    ? transformTRPCResponse(config, paths.map(envelope))
    : transformTRPCResponse(config, envelope(paths[0] ?? LOGIN_PATH));
}

/**
 * Limits auth.login per client address (config.loginRateLimit): each auth.login in a request,
 * batched or not, counts once. Other procedures are not limited here. Call before the tRPC plugin
 * is registered so the hook covers its routes.
 */
export async function registerLoginRateLimit(app: FastifyInstance, config: Pick<Config, 'loginRateLimit'>): Promise<void> {
  // Another part of the server may have registered the plugin already (it decorates the root).
  if (!app.hasDecorator('createRateLimit')) await app.register(rateLimit, { global: false });
  const limiter = app.createRateLimit({
    max: config.loginRateLimit.max,
    timeWindow: config.loginRateLimit.windowMs,
    keyGenerator: (req) => `auth.login:${normalizeIP(req.ip)}`,
  });

  app.addHook('onRequest', async (req, reply) => {
    const paths = trpcPaths(req.url);
    const logins = paths.filter((p) => p === LOGIN_PATH).length;
    if (logins === 0) return;
    for (let i = 0; i < logins; i++) {
      const result = await limiter(req);
      if (!result.isAllowed && result.isExceeded) {
        req.log.warn({ ip: req.ip, max: result.max, windowMs: result.timeWindow }, 'login rate limit exceeded');
        return reply
          .code(429)
          .header('retry-after', String(result.ttlInSeconds))
          .type('application/json')
          .send(tooManyRequestsBody(req, paths, result.ttlInSeconds));
      }
    }
  });
}
