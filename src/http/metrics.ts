import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../db/knex';
import type { TransactionObserver } from '../db/tx';
import { trpcCodeForHttpStatus } from '../shared/http-status';
import type { RateLimitEvents } from './rate-limit';
import { trpcCall } from './trpc-errors';

/*
 * Prometheus metrics (METRICS_PORT), served by a Fastify instance of their own on METRICS_HOST,
 * never on the public port: they tell an outsider the traffic and the procedures in use.
 *
 * Requests are counted per tRPC procedure once answered, in an onResponse hook, from the URL's
 * paths (src/http/trpc-errors.ts) and the codes tRPC reported through onError. That covers both
 * ways a call is answered (the lean transport and tRPC's own adapter, src/http/trpc-transport.ts)
 * and the refusals made before tRPC runs (rate limit, body too large), which get the code of
 * their HTTP status. Each server has its own registry, so tests can build several.
 */

/** A path that names no procedure is counted under this label: URLs must not grow the label set. */
const UNKNOWN_PROCEDURE = '(unknown)';
/** A batch longer than this (refused anyway) counts once, as unknown. */
const MAX_COUNTED_PATHS = 100;

export interface ServerMetrics {
  registry: Registry;
  rateLimit: RateLimitEvents;
  transactions: TransactionObserver;
  /** From tRPC's onError: the code one call of this request ended with. */
  trpcError(req: FastifyRequest, path: string | undefined, code: string): void;
  /** The base URL of the metrics listener once listening (`http://host:port`), else null. */
  url(): string | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Absent when METRICS_PORT is unset. */
    metrics?: ServerMetrics;
  }
}

interface TarnPool {
  numUsed(): number;
  numPendingAcquires(): number;
  numFree(): number;
}

function poolOf(db: Db): TarnPool | undefined {
  return (db.client as { pool?: TarnPool }).pool;
}

/** What the server wires in: the hook that counts answered requests, and where the listener is. */
export interface MetricsRecorder extends ServerMetrics {
  onResponse(req: FastifyRequest, reply: FastifyReply): void;
  setUrl(url: string | null): void;
}

export function createMetrics(db: Db, procedures: readonly string[]): MetricsRecorder {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const known = new Set(procedures);

  const requests = new Counter({
    name: 'scancode_trpc_requests_total',
    help: 'tRPC calls answered, per procedure, tRPC code (OK when it succeeded) and HTTP status of the response',
    labelNames: ['procedure', 'code', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'scancode_trpc_request_duration_seconds',
    help: 'Time from receiving the HTTP request to answering it, per procedure and tRPC code (a batch counts for each of its calls)',
    labelNames: ['procedure', 'code'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'scancode_db_pool_connections_in_use',
    help: 'Database pool connections handed out',
    registers: [registry],
    collect() {
      this.set(poolOf(db)?.numUsed() ?? 0);
    },
  });
  new Gauge({
    name: 'scancode_db_pool_acquires_pending',
    help: 'Requests waiting for a database pool connection',
    registers: [registry],
    collect() {
      this.set(poolOf(db)?.numPendingAcquires() ?? 0);
    },
  });
  const retries = new Counter({
    name: 'scancode_db_transaction_retries_total',
    help: 'Transactions run again after the database rolled them back (conflict: deadlock, lock timeout or Galera certification; not_ready: 1047; connection_lost: before COMMIT)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  const commitUnknown = new Counter({
    name: 'scancode_db_commit_outcome_unknown_total',
    help: 'COMMITs whose connection died: answered SERVICE_UNAVAILABLE, the client retries with its requestId',
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'scancode_rate_limit_refusals_total',
    help: 'Requests refused with 429 by a rate limit',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: 'scancode_rate_limit_store_errors_total',
    help: 'Rate-limit checks that could not reach Redis (global: let through; login: counted on this node)',
    labelNames: ['limit'] as const,
    registers: [registry],
  });

  const callErrors = new WeakMap<FastifyRequest, Array<{ path: string | undefined; code: string }>>();
  let listeningUrl: string | null = null;

  const recorder: MetricsRecorder = {
    registry,
    rateLimit: {
      refused: (limit) => refusals.inc({ limit }),
      storeFailed: (limit) => storeErrors.inc({ limit }),
    },
    transactions: {
      retry: (reason) => retries.inc({ reason }),
      commitUnknown: () => commitUnknown.inc(),
    },
    trpcError(req, path, code) {
      const list = callErrors.get(req);
      if (list) list.push({ path, code });
      else callErrors.set(req, [{ path, code }]);
    },
    url: () => listeningUrl,
    onResponse(req, reply) {
      const call = trpcCall(req.url);
      if (!call) return;
      const status = reply.statusCode;
      const seconds = reply.elapsedTime / 1000;
      const errors = callErrors.get(req) ?? [];
      const paths = call.paths.length > MAX_COUNTED_PATHS ? [UNKNOWN_PROCEDURE] : call.paths;
      for (const path of paths) {
        const at = errors.findIndex((e) => e.path === path || e.path === undefined);
        const reported = at >= 0 ? errors.splice(at, 1)[0]!.code : null;
        // No error reported for this call: it succeeded, unless the whole request was refused
        // before tRPC ran (its status then says how).
        const code = reported ?? (status >= 400 ? trpcCodeForHttpStatus(status) : 'OK');
        const procedure = known.has(path) ? path : UNKNOWN_PROCEDURE;
        requests.inc({ procedure, code, status: String(status) });
        duration.observe({ procedure, code }, seconds);
      }
    },
    setUrl(url) {
      listeningUrl = url;
    },
  };
  return recorder;
}

/** The metrics listener: GET /metrics in Prometheus text format, nothing else. */
export function buildMetricsListener(metrics: ServerMetrics): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  return app;
}

export async function listenMetrics(listener: FastifyInstance, host: string, port: number): Promise<string> {
  await listener.listen({ host, port });
  const { port: bound } = listener.server.address() as AddressInfo;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return `http://${shownHost}:${bound}`;
}
