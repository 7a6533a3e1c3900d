import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { expect } from 'vitest';
import type { Db } from '../../../src/db/knex';
import type { AppRouter } from '../../../src/routers/_app';

/*
 * Plain-HTTP helpers for the reliability tests: they speak tRPC's wire format by hand so that they
 * can also send what no tRPC client would.
 */

export interface WireResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  body: unknown;
  ms: number;
}

export async function send(url: string, init: RequestInit = {}): Promise<WireResponse> {
  const started = performance.now();
  const res = await fetch(url, init);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, headers: res.headers, text, body, ms: performance.now() - started };
}

export function sessionHeaders(token?: string | null, extra: Record<string, string> = {}): Record<string, string> {
  return token === undefined || token === null ? { ...extra } : { 'x-session-token': token, ...extra };
}

/** A query: GET /trpc/<path>?input=<json>. `wire` is the already-serialized `{ json, meta }` (or anything). */
export function getCall(base: string, path: string, wire: unknown, headers: Record<string, string> = {}): Promise<WireResponse> {
  const q = wire === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(wire))}`;
  return send(`${base}/trpc/${path}${q}`, { headers });
}

/** A mutation: POST /trpc/<path> with a JSON body (raw text when `rawBody` is a string). */
export function postCall(
  base: string,
  path: string,
  wire: unknown,
  headers: Record<string, string> = {},
  rawBody?: string,
): Promise<WireResponse> {
  return send(`${base}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: rawBody ?? (wire === undefined ? '' : JSON.stringify(wire)),
  });
}

export function call(
  base: string,
  type: 'query' | 'mutation',
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<WireResponse> {
  const wire = input === undefined ? undefined : superjson.serialize(input);
  return type === 'query' ? getCall(base, path, wire, headers) : postCall(base, path, wire, headers);
}

export interface TrpcErrorJson {
  message: string;
  code: number;
  data: { code: string; httpStatus: number; path?: string; zodError?: unknown };
}

/** The error of a single (non-batch) tRPC response, checking that it is a well-formed envelope. */
export function trpcError(res: WireResponse): TrpcErrorJson {
  const body = res.body as { error?: { json?: TrpcErrorJson } } | undefined;
  const error = body?.error?.json;
  if (!error || typeof error.message !== 'string' || typeof error.code !== 'number' || typeof error.data?.code !== 'string') {
    throw new Error(`not a tRPC error envelope (HTTP ${res.status}): ${res.text.slice(0, 500)}`);
  }
  expect(error.data.httpStatus).toBe(res.status);
  return error;
}

/** The result data of a successful single tRPC response. */
export function trpcData<T = unknown>(res: WireResponse): T {
  if (res.status !== 200) throw new Error(`expected 200, got ${res.status}: ${res.text.slice(0, 500)}`);
  const body = res.body as { result?: { data?: { json: unknown; meta?: unknown } } } | undefined;
  if (!body?.result?.data) throw new Error(`not a tRPC result envelope: ${res.text.slice(0, 500)}`);
  return superjson.deserialize(body.result.data as Parameters<typeof superjson.deserialize>[0]) as T;
}

/** A stock tRPC client (what the mini-program uses), over real HTTP. */
export function client(base: string, token?: string, extraHeaders: Record<string, string> = {}) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${base}/trpc`, transformer: superjson, headers: () => sessionHeaders(token, extraHeaders) })],
  });
}

export function trpcCodeOf(err: unknown): string | undefined {
  return err instanceof TRPCClientError ? (err.data as { code?: string } | undefined)?.code : undefined;
}

const TABLES = [
  'users',
  'sessions',
  'directories',
  'directory_members',
  'invites',
  'goods',
  'logs',
  'request_results',
  'stocktakes',
  'stocktake_lines',
] as const;

function normalize(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) {
    out[k] = v instanceof Date ? v.getTime() : Buffer.isBuffer(v) ? v.toString('hex') : v;
  }
  return out;
}

export type DbSnapshot = Record<(typeof TABLES)[number], Record<string, unknown>[]>;

/**
 * Every row of every table, normalised. sessions.last_seen_at is left out: an authenticated call
 * refreshes it (at most once a minute) by design, and that is bookkeeping, not data.
 */
export async function snapshot(db: Db): Promise<DbSnapshot> {
  const out = {} as DbSnapshot;
  for (const table of TABLES) {
    // directory_members is keyed by (directory_id, user_id) and has no id.
    const order = table === 'directory_members' ? ['directory_id', 'user_id'] : ['id'];
    const rows = (await db(table).select('*').orderBy(order)) as Record<string, unknown>[];
    out[table] = rows.map((r) => {
      const n = normalize(r);
      if (table === 'sessions') delete n.last_seen_at;
      return n;
    });
  }
  return out;
}

/**
 * Asserts that nothing changed between two snapshots. request_results may only have gained
 * records of refusals (the idempotency store remembers that a requestId was refused, so a retry
 * gets the same refusal): no record of an applied change may appear.
 */
export function expectUnchanged(before: DbSnapshot, after: DbSnapshot): void {
  for (const table of TABLES) {
    if (table === 'request_results') continue;
    expect(after[table], `table ${table} changed`).toEqual(before[table]);
  }
  const known = new Set(before.request_results.map((r) => r.id));
  expect(after.request_results.filter((r) => known.has(r.id))).toEqual(before.request_results);
  for (const added of after.request_results.filter((r) => !known.has(r.id))) {
    const outcome = superjson.parse<{ ok: boolean }>(String(added.response));
    expect(outcome.ok, `request_results row ${String(added.id)} records an applied change`).toBe(false);
  }
}
