import { createHash } from 'node:crypto';
import { TRPCError, type TRPC_ERROR_CODE_KEY } from '@trpc/server';
import superjson from 'superjson';
import { rereadCausally } from '../db/causal';
import { isUniqueViolation, type Db, type Queryable } from '../db/knex';
import { preparedWrite } from '../db/prepared';
import { serialize } from '../transformer';
import { inTransaction, type Tx } from '../db/tx';

/*
 * requestId idempotency for stock changes: a retried scan on a flaky network must never count twice.
 *
 * The request_results row is inserted FIRST, in the transaction that applies the change, and
 * filled with the outcome before commit. A concurrent duplicate therefore blocks on the unique key
 * (user_id, request_id) until the first commits, then gets a duplicate-key error and replays the
 * stored outcome; if the first rolls back, the duplicate proceeds as the first. The change and its
 * record commit together or not at all. A refused change (NOT_FOUND, PRECONDITION_FAILED…) rolls
 * back with its claim, and its refusal is then recorded in a short transaction of its own; should a
 * duplicate have been recorded in between, that record is the one both callers get.
 */

/** How long a requestId is remembered. API.md promises at least 24 h. */
export const RETENTION_MS = 48 * 3600_000;
/** Pruning is one indexed DELETE, run at most this often per database handle. */
const PRUNE_EVERY_MS = 10 * 60_000;
const MAX_ATTEMPTS = 5;

/** Errors that are the outcome of the request itself (not of infrastructure) and so are replayed. */
const REPLAYABLE: ReadonlySet<TRPC_ERROR_CODE_KEY> = new Set(['NOT_FOUND', 'PRECONDITION_FAILED', 'CONFLICT', 'BAD_REQUEST']);

type Outcome<T> = { ok: true; value: T } | { ok: false; code: TRPC_ERROR_CODE_KEY; message: string };

export interface IdempotencyKey {
  userId: number;
  requestId: string;
  /** e.g. "goods.stockIn": the same requestId on another procedure is a conflict. */
  procedure: string;
  /** The validated input without requestId. */
  input: Record<string, unknown>;
  now: Date;
}

/** JSON with sorted object keys, so that key order never changes a fingerprint. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function fingerprint(procedure: string, input: Record<string, unknown>): string {
  return createHash('sha256')
    .update(`${procedure}\n${canonicalJson(input)}`, 'utf8')
    .digest('hex');
}

class DuplicateRequest extends Error {}

interface StoredRow {
  procedure: string;
  fingerprint: string;
  response: string;
}

async function findStored(db: Queryable, userId: number, requestId: string): Promise<StoredRow | undefined> {
  return (await db('request_results')
    .select('procedure', 'fingerprint', 'response')
    .where({ user_id: userId, request_id: requestId })
    .first()) as StoredRow | undefined;
}

function replay<T>(stored: StoredRow, expectedFingerprint: string): T {
  if (stored.fingerprint !== expectedFingerprint) {
    throw new TRPCError({
      code: 'CONFLICT',
      message: 'This requestId was already used for a different request; use a new requestId for a new operation',
    });
  }
  return unwrap(superjson.parse<Outcome<T>>(stored.response));
}

function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new TRPCError({ code: outcome.code, message: outcome.message });
}

const lastPrune = new WeakMap<Db, number>();

/** Forgets requestIds older than the retention; cheap, and run at most every few minutes. */
export async function pruneRequestResults(db: Db, now: Date, force = false): Promise<number> {
  const last = lastPrune.get(db);
  if (!force && last !== undefined && now.getTime() - last < PRUNE_EVERY_MS) return 0;
  lastPrune.set(db, now.getTime());
  return db('request_results')
    .where('created_at', '<', new Date(now.getTime() - RETENTION_MS))
    .delete();
}

/**
 * Applies `op` exactly once per (user, requestId): the first call runs it in a transaction and
 * records its outcome; later calls with the same input get that outcome (value or error) back;
 * later calls with other input get CONFLICT. Without a requestId `op` simply runs in a transaction.
 * Deadlocks and cluster conflicts are retried (inTransaction). A COMMIT whose connection died is
 * not: it fails with SERVICE_UNAVAILABLE, and when the client sends the same requestId again, the
 * claim finds the record if that COMMIT did apply and replays its outcome, or applies the change
 * as the first call if it did not.
 */
export async function idempotent<T>(db: Db, key: IdempotencyKey | null, op: (tx: Tx) => Promise<T>): Promise<T> {
  if (!key) return inTransaction(db, op);

  const print = fingerprint(key.procedure, key.input);
  try {
    await pruneRequestResults(db, key.now);
  } catch {
    // Pruning is housekeeping: a failure must not fail the stock change.
  }

  for (let attempt = 1; ; attempt++) {
    try {
      return await inTransaction(db, async (tx) => {
        await claim(tx, key, print, '');
        const value = await op(tx);
        const response = JSON.stringify(serialize({ ok: true, value } satisfies Outcome<T>));
        await recordResponse(tx, { userId: key.userId, requestId: key.requestId, response });
        return value;
      });
    } catch (err) {
      if (err instanceof TRPCError && REPLAYABLE.has(err.code)) {
        const refusal: Outcome<T> = { ok: false, code: err.code, message: err.message };
        if (await recordRefusal(db, key, print, refusal)) throw err;
      } else if (!(err instanceof DuplicateRequest)) {
        throw err;
      }
      // Someone else's outcome for this requestId is committed: it is the answer.
      // The record may have been committed through another Galera node and not be applied on this
      // one yet: a miss is read once more, causally (src/db/causal.ts).
      const first =
        (await findStored(db, key.userId, key.requestId)) ??
        (await rereadCausally(db, (q) => findStored(q, key.userId, key.requestId))) ??
        undefined;
      if (first) return replay<T>(first, print);
      // The row vanished between the duplicate-key error and the read (pruned): try again as first.
      if (attempt >= MAX_ATTEMPTS) throw new TRPCError({ code: 'CONFLICT', message: 'requestId is busy; retry' });
    }
  }
}

/** Records a refusal; false when another outcome for this requestId got committed first. */
async function recordRefusal<T>(db: Db, key: IdempotencyKey, print: string, refusal: Outcome<T>): Promise<boolean> {
  try {
    await inTransaction(db, (tx) => claim(tx, key, print, superjson.stringify(refusal)));
    return true;
  } catch (err) {
    if (err instanceof DuplicateRequest) return false;
    throw err;
  }
}

/** Prepared (src/db/prepared.ts), as the stock changes they record are. */
const insertClaim = preparedWrite<{ userId: number; requestId: string; procedure: string; print: string; response: string; now: Date }>(
  (q, p) =>
    q('request_results').insert({
      user_id: p.userId,
      request_id: p.requestId,
      procedure: p.procedure,
      fingerprint: p.print,
      response: p.response,
      created_at: p.now,
    }),
);
const recordResponse = preparedWrite<{ userId: number; requestId: string; response: string }>((q, p) =>
  q('request_results').where({ user_id: p.userId, request_id: p.requestId }).update({ response: p.response }),
);

/** Inserts this requestId's record; DuplicateRequest when one is already committed. */
async function claim(tx: Tx, key: IdempotencyKey, print: string, response: string): Promise<void> {
  try {
    await insertClaim(tx, { userId: key.userId, requestId: key.requestId, procedure: key.procedure, print, response, now: key.now });
  } catch (err) {
    if (isUniqueViolation(err)) throw new DuplicateRequest();
    throw err;
  }
}
