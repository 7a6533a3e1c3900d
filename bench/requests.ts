import type { BenchUser, HotFixture } from './seed';
import type { LoadRequest } from './load';
import { benchCode } from './seed';

/*
 * The requests the load sends, exactly as a stock @trpc/client httpLink / httpBatchLink with
 * superjson would encode them. Scans are precomputed (encoding is load-generator work that would
 * otherwise be measured against the server); mutations carry a fresh requestId each time.
 */

/** Share of scans for a code the user does not have (the first scan of a new product). */
const MISS_SHARE = 0.1;
const PRECOMPUTED = 4096;

function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(Math.random() * xs.length)]!;
}

export interface ScanTarget {
  user: BenchUser;
  userIndex: number;
  code: string;
}

function scanTargets(users: BenchUser[], n: number): ScanTarget[] {
  return Array.from({ length: n }, () => {
    const userIndex = Math.floor(Math.random() * users.length);
    const user = users[userIndex]!;
    const miss = Math.random() < MISS_SHARE;
    return { user, userIndex, code: miss ? benchCode(userIndex, 900_000 + Math.floor(Math.random() * 99_999)) : pick(user.codes) };
  });
}

export function scanInput(t: { user: BenchUser; code: string }): { json: { directoryId: number; code: string } } {
  return { json: { directoryId: t.user.directoryId, code: t.code } };
}

/** GET <prefix>/goods.scan?input=… ; prefix is "/trpc" or "/bare". */
export function scanRequests(users: BenchUser[], prefix: string): () => LoadRequest {
  const reqs = scanTargets(users, PRECOMPUTED).map(
    (t): LoadRequest => ({
      method: 'GET',
      path: `${prefix}/goods.scan?input=${encodeURIComponent(JSON.stringify(scanInput(t)))}`,
      headers: { 'x-session-token': t.user.token },
    }),
  );
  return () => pick(reqs);
}

/** One HTTP request carrying `size` goods.scan calls of one user (httpBatchLink). */
export function batchScanRequests(users: BenchUser[], size: number): () => LoadRequest {
  const reqs = Array.from({ length: PRECOMPUTED }, (): LoadRequest => {
    const user = pick(users);
    const targets = scanTargets([user], size);
    const input: Record<string, unknown> = {};
    targets.forEach((t, i) => {
      input[String(i)] = scanInput(t);
    });
    const paths = Array.from({ length: size }, () => 'goods.scan').join(',');
    return {
      method: 'GET',
      path: `/trpc/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`,
      headers: { 'x-session-token': user.token },
    };
  });
  return () => pick(reqs);
}

let requestCounter = 0;
const RUN_TAG = `${Date.now().toString(36)}-${process.pid}`;

/** Unique across subject and baseline: both write to the same request_results table. */
export function nextRequestId(): string {
  return `bench-${RUN_TAG}-${(requestCounter++).toString(36)}`;
}

function stockBody(directoryId: number, code: string, withRequestId: boolean): string {
  const json: Record<string, unknown> = { directoryId, code, quantity: 1 };
  if (withRequestId) json.requestId = nextRequestId();
  return JSON.stringify({ json });
}

/** POST <prefix>/goods.stockIn of one unit of an existing code of a random bench user. */
export function stockInRequests(users: BenchUser[], prefix: string, withRequestId: boolean): () => LoadRequest {
  return () => {
    const user = pick(users);
    return {
      method: 'POST',
      path: `${prefix}/goods.stockIn`,
      headers: { 'x-session-token': user.token, 'content-type': 'application/json' },
      body: stockBody(user.directoryId, pick(user.codes), withRequestId),
    };
  };
}

/** POST /trpc/goods.<procedure> of one unit of the contended goods, from a random device of its user. */
export function hotRequests(hot: HotFixture, procedure: 'stockIn' | 'stockOut'): () => LoadRequest {
  return () => ({
    method: 'POST',
    path: `/trpc/goods.${procedure}`,
    headers: { 'x-session-token': pick(hot.tokens), 'content-type': 'application/json' },
    body: stockBody(hot.directoryId, hot.code, true),
  });
}
