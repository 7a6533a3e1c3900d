import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { registerLoginRateLimit } from './auth/rate-limit';
import { registerHttpEdge } from './http';
import { serializeRequest } from './http/access-log';
import { sendError } from './http/errors';
import { buildMetricsListener, createMetrics, listenMetrics } from './http/metrics';
import { closeRedis, createRedisClient, redisReady } from './http/redis';
import { registerTrpc, type TrpcTransport } from './http/trpc-transport';
import type { Config } from './config';
import { createDb, type Db } from './db/knex';
import { observeTransactions } from './db/tx';
import { registerFiles } from './files/routes';
import { appRouter } from './routers/_app';
import { contextFactory } from './trpc';

export interface ServerDeps {
  /** An existing knex instance (tests share one); otherwise one is created and closed with the server. */
  db?: Db;
  /** Where log lines go (default stdout); tests read them back to prove secrets stay out. */
  logStream?: { write(line: string): void };
  /** Clock for sessions and timestamps; tests move it to expire tokens. */
  now?: () => Date;
  /** `fetch`: tRPC's stock adapter for every request, the reference the transport tests compare with. */
  trpcTransport?: TrpcTransport;
}

/** Headers whose values must never reach a log line. */
export const REDACTED_LOG_PATHS = ['req.headers["x-session-token"]', 'req.headers.authorization', 'req.headers.cookie'];

declare module 'fastify' {
  interface FastifyInstance {
    db: Db;
  }
}

/** A number means "trust this many hops"; Fastify's types only take that as a function. */
function trustProxyOption(value: Config['trustProxy']): boolean | string | ((addr: string, hop: number) => boolean) {
  return typeof value === 'number' ? (_addr, hop) => hop < value : value;
}

/** Builds the HTTP app without listening: tests `inject` into it or listen on port 0. */
export async function buildServer(config: Config, deps: ServerDeps = {}): Promise<FastifyInstance> {
  // Refusals made before tRPC runs are still tRPC envelopes, shaped by the router's own config.
  const errorReplies = { trpcConfig: appRouter._def._config, maxBatchSize: config.maxBatchSize };
  const app = Fastify({
    logger: {
      level: config.logLevel,
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
      // URLs without their tRPC input or a download token (src/http/access-log.ts).
      serializers: { req: serializeRequest },
      ...(deps.logStream ? { stream: deps.logStream } : {}),
    },
    // One line per request instead, written by the HTTP edge (src/http/access-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    trustProxy: trustProxyOption(config.trustProxy),
    // Batched calls put every path into one URL segment.
    routerOptions: { maxParamLength: 5000 },
    // A URL Fastify's router refuses (a batch of a thousand paths, a broken escape) still gets a
    // tRPC envelope with a 4xx code, like every other refusal.
    frameworkErrors: (err, req, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      const message =
        err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'Request path too long: too many calls in one batch' : err.message.slice(0, 200);
      return sendError(req, reply, errorReplies, status, message);
    },
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  const ownsDb = !deps.db;
  const db =
    deps.db ??
    createDb({
      url: config.database.url,
      sqliteFile: config.database.sqliteFile,
      poolMax: config.database.poolMax,
      log: app.log,
    });
  app.decorate('db', db);

  // Metrics only when asked for: counting costs a little on every request.
  const metrics = config.metrics.port === undefined ? null : createMetrics(db, Object.keys(appRouter._def.procedures));
  if (metrics) {
    app.decorate('metrics', metrics);
    observeTransactions(db, metrics.transactions);
    app.addHook('onResponse', (req, reply, done) => {
      metrics.onResponse(req, reply);
      done();
    });
    const listener = buildMetricsListener(metrics);
    const { host, port } = config.metrics;
    // Listens when the app is ready (before it serves), so a scrape never misses early requests.
    app.addHook('onReady', async () => {
      metrics.setUrl(await listenMetrics(listener, host, port!));
    });
    app.addHook('onClose', async () => {
      observeTransactions(db, null);
      await listener.close();
    });
  }

  // One Redis client per server, for the shared rate limits; closed with the app.
  const redis = config.redisUrl ? createRedisClient(config.redisUrl, app.log) : null;
  if (redis) {
    app.addHook('onReady', () => redisReady(redis, 1000));
    app.addHook('onClose', async () => closeRedis(redis));
  }
  const limits = { redis, ...(metrics ? { events: metrics.rateLimit } : {}) };

  await registerHttpEdge(app, { rateLimitMax: config.rateLimitMax, ...limits, ...errorReplies });

  app.get('/healthz', async (req, reply) => {
    try {
      await db.raw('select 1').timeout(2000, { cancel: false });
      return { ok: true };
    } catch (err) {
      req.log.warn({ err }, 'health check: database did not answer');
      return reply.code(503).send({ ok: false });
    }
  });

  await registerLoginRateLimit(app, { loginRateLimit: config.loginRateLimit, ...limits, ...errorReplies });

  // Spreadsheets (export links and imports) in a scope of their own, beside the tRPC scope.
  await registerFiles(app, { db, now: deps.now ?? (() => new Date()), ...errorReplies });

  await registerTrpc(app, {
    prefix: '/trpc',
    router: appRouter,
    createContext: contextFactory({ db, config, log: app.log, now: deps.now }),
    maxBatchSize: config.maxBatchSize,
    transport: deps.trpcTransport,
    onError({ path, error, type, req }) {
      metrics?.trpcError(req, path, error.code);
      // req.log carries the request id, so the failure can be matched to its request.
      if (error.code === 'INTERNAL_SERVER_ERROR') {
        req.log.error({ err: error.cause ?? error, path, type }, 'tRPC procedure failed');
      } else if (error.code === 'SERVICE_UNAVAILABLE') {
        req.log.error({ err: error.cause ?? error, path, type }, 'tRPC procedure failed: database unavailable');
      }
    },
  });

  if (ownsDb) {
    app.addHook('onClose', async () => {
      await db.destroy();
    });
  }
  return app;
}
