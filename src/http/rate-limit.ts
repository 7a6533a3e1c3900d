import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type Redis from 'ioredis';
import type { Config } from '../config';
import { sendError, type ErrorReplyOptions } from './errors';
import { splitUrl } from './url';

/*
 * A per-address limit over every request (config.rateLimitMax a minute), refused with a tRPC
 * TOO_MANY_REQUESTS envelope. Each HTTP request counts once, batched or not: the batch size is
 * capped separately. auth.login has its own, tighter limit in src/auth/rate-limit.ts.
 *
 * With REDIS_URL the counts live in Redis, shared by every node behind the balancer. Redis being
 * unreachable must not stop the service: this limit then lets requests through (fails open) and
 * the login limit counts in this process instead (src/auth/rate-limit.ts), with a warning.
 */

const WINDOW_MS = 60_000;
/** Load-balancer probes must neither eat a client's budget nor be refused. */
const UNLIMITED_PATHS = new Set(['/healthz']);
/** Redis key prefix of every count, so that the keys say whose they are. */
const REDIS_NAMESPACE = 'scancode:rate-limit:';
/** While Redis is down, at most one warning per limit this often (every request would flood the log). */
const STORE_WARNING_EVERY_MS = 10_000;

/** What a limiter made by `app.createRateLimit` reports when a request is over its limit. */
export interface Exceeded {
  max: number;
  timeWindow: number;
  ttlInSeconds: number;
}

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;
type LimiterOptions = Parameters<FastifyInstance['createRateLimit']>[0];
export type LimitName = 'global' | 'login';

/** Metrics hooks (src/http/metrics.ts). */
export interface RateLimitEvents {
  refused(limit: LimitName): void;
  storeFailed(limit: LimitName): void;
}

export interface RateLimitStores {
  /** Counts in Redis when there is one (shared by every node), in this process otherwise. */
  shared(opts: LimiterOptions): Limiter;
  /** Counts in this process: the login limit's fallback while Redis is unreachable. */
  local(opts: LimiterOptions): Limiter;
  /** Logs (now and then) that the shared store failed and counts it. */
  storeFailed(log: FastifyBaseLogger, limit: LimitName, err: unknown): void;
  events?: RateLimitEvents;
}

declare module 'fastify' {
  interface FastifyInstance {
    rateLimitStores: RateLimitStores;
  }
}

export interface RateLimitStoreOptions {
  /** The server's Redis client (REDIS_URL); null or absent: counts in this process. */
  redis?: Redis | null;
  events?: RateLimitEvents;
}

/**
 * One registration of @fastify/rate-limit, in a scope of its own so that the Redis-backed and the
 * in-process stores can live side by side (the plugin keeps one store per registration); the
 * scope's limiter factory is what the limits use.
 */
async function limiterFactory(app: FastifyInstance, redis: Redis | null): Promise<(opts: LimiterOptions) => Limiter> {
  let factory: ((opts: LimiterOptions) => Limiter) | undefined;
  const plugin: FastifyPluginAsync = async (scope) => {
    // global: false adds no route hooks; each limit is an onRequest hook of ours. skipOnError is
    // off: a store error reaches our hooks, which decide (fail open, or count locally) and log.
    await scope.register(rateLimit, { global: false, skipOnError: false, ...(redis ? { redis, nameSpace: REDIS_NAMESPACE } : {}) });
    factory = (opts) => scope.createRateLimit(opts);
  };
  await app.register(plugin);
  if (!factory) throw new Error('@fastify/rate-limit did not register');
  return factory;
}

/** The stores both limits use, made once per app. */
export async function ensureRateLimitStores(app: FastifyInstance, opts: RateLimitStoreOptions = {}): Promise<RateLimitStores> {
  if (app.hasDecorator('rateLimitStores')) return app.rateLimitStores;
  const local = await limiterFactory(app, null);
  const shared = opts.redis ? await limiterFactory(app, opts.redis) : local;
  const lastWarning: Partial<Record<LimitName, number>> = {};
  const stores: RateLimitStores = {
    shared,
    local,
    events: opts.events,
    storeFailed(log, limit, err) {
      opts.events?.storeFailed(limit);
      const now = Date.now();
      if (now - (lastWarning[limit] ?? 0) < STORE_WARNING_EVERY_MS) return;
      lastWarning[limit] = now;
      const message = err instanceof Error ? err.message : String(err);
      log.warn(
        { limit, store: 'redis', message },
        limit === 'global'
          ? 'rate limit store unreachable: the global limit fails open'
          : 'rate limit store unreachable: the login limit counts on this node only',
      );
    },
  };
  app.decorate('rateLimitStores', stores);
  return stores;
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

export async function registerRateLimit(
  app: FastifyInstance,
  config: Pick<Config, 'rateLimitMax'> & ErrorReplyOptions & RateLimitStoreOptions,
): Promise<void> {
  const stores = await ensureRateLimitStores(app, config);
  const limiter = stores.shared({
    max: config.rateLimitMax,
    timeWindow: WINDOW_MS,
    // req.ip honours trustProxy: behind a trusted load balancer it is the client, not the balancer.
    keyGenerator: (req) => `all:${normalizeIP(req.ip)}`,
  });
  app.addHook('onRequest', async (req, reply) => {
    if (UNLIMITED_PATHS.has(splitUrl(req.url).path)) return;
    let result: Awaited<ReturnType<Limiter>>;
    try {
      result = await limiter(req);
    } catch (err) {
      // Redis unreachable: fail open at once rather than hold or refuse every request.
      stores.storeFailed(req.log, 'global', err);
      return;
    }
    if (result.isAllowed || !result.isExceeded) return;
    stores.events?.refused('global');
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
