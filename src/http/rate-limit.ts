import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { sendError, type ErrorReplyOptions } from './errors';
import { splitUrl } from './url';

/*
 * A per-address limit over every request (config.rateLimitMax a minute), refused with a tRPC
 * TOO_MANY_REQUESTS envelope. Each HTTP request counts once, batched or not: the batch size is
 * capped separately. auth.login has its own, tighter limit in src/auth/rate-limit.ts.
 */

const WINDOW_MS = 60_000;
/** Load-balancer probes must neither eat a client's budget nor be refused. */
const UNLIMITED_PATHS = new Set(['/healthz']);

/** What a limiter made by `app.createRateLimit` reports when a request is over its limit. */
export interface Exceeded {
  max: number;
  timeWindow: number;
  ttlInSeconds: number;
}

/** Logs the refusal and answers 429 with retry-after and a tRPC TOO_MANY_REQUESTS envelope. */
export function refuseOverLimit(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: ErrorReplyOptions,
  result: Exceeded,
  what: string,
  message: string,
): FastifyReply {
  req.log.warn({ ip: req.ip, max: result.max, windowMs: result.timeWindow }, `${what} exceeded`);
  reply.header('retry-after', String(result.ttlInSeconds));
  return sendError(req, reply, opts, 429, message);
}

/** Makes sure the plugin is there: its limiter factory is shared by the global and the login limits. */
export async function ensureRateLimitPlugin(app: FastifyInstance): Promise<void> {
  // global: false adds no route hooks; each limit is an onRequest hook of ours.
  if (!app.hasDecorator('createRateLimit')) await app.register(rateLimit, { global: false });
}

export async function registerRateLimit(app: FastifyInstance, config: Pick<Config, 'rateLimitMax'> & ErrorReplyOptions): Promise<void> {
  await ensureRateLimitPlugin(app);
  const limiter = app.createRateLimit({
    max: config.rateLimitMax,
    timeWindow: WINDOW_MS,
    // req.ip honours trustProxy: behind a trusted load balancer it is the client, not the balancer.
    keyGenerator: (req) => `all:${normalizeIP(req.ip)}`,
  });
  app.addHook('onRequest', async (req, reply) => {
    if (UNLIMITED_PATHS.has(splitUrl(req.url).path)) return;
    const result = await limiter(req);
    if (result.isAllowed || !result.isExceeded) return;
    return refuseOverLimit(
      req,
      reply,
      config,
      result,
      'rate limit',
      `Too many requests from this address: at most ${result.max} a minute; retry in ${result.ttlInSeconds} s`,
    );
  });
}
