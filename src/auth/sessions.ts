import { createHash, randomBytes } from 'node:crypto';
import { rereadCausally } from '../db/causal';
import { toDate, type Db, type Queryable } from '../db/knex';
import { preparedSelect } from '../db/prepared';
import type { Actor } from '../access/access';

/** 32 random bytes, base64url: 256 bits, 43 characters. */
const TOKEN_BYTES = 32;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** last_seen_at is refreshed at most this often, so an authenticated read stays a single SELECT. */
const LAST_SEEN_RESOLUTION_MS = 60_000;

/** The caller as a session names them: enough to act and to be named in the history. */
export type SessionUser = Actor;

export interface ResolvedSession {
  sessionId: number;
  user: SessionUser;
  expiresAt: Date;
}

export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function isWellFormedToken(token: string): boolean {
  return TOKEN_PATTERN.test(token);
}

/** Issues a new token for the user; only its hash is stored. */
export async function createSession(
  db: Queryable,
  userId: number,
  ttlDays: number,
  now: Date = new Date(),
): Promise<{ token: string; expiresAt: Date }> {
  const token = generateToken();
  const expiresAt = new Date(now.getTime() + ttlDays * 86_400_000);
  await db('sessions').insert({
    user_id: userId,
    token_hash: hashToken(token),
    created_at: now,
    expires_at: expiresAt,
    last_seen_at: now,
    revoked_at: null,
  });
  return { token, expiresAt };
}

export type SessionLookup = { status: 'ok'; session: ResolvedSession } | { status: 'malformed' | 'unknown' | 'expired' | 'revoked' };

interface SessionRow {
  id: number;
  user_id: number;
  nickname: string | null;
  expires_at: Date | number;
  last_seen_at: Date | number;
  revoked_at: Date | number | null;
}

/**
 * Runs on every protected request: compiled once (src/db/prepared.ts). The user's nickname comes
 * along (a primary-key join) because every change names its actor in the history.
 */
const selectSession = preparedSelect<{ tokenHash: string }, SessionRow>((q, p) =>
  q('sessions as s')
    .join('users as u', 'u.id', 's.user_id')
    .select('s.id', 's.user_id', 'u.nickname', 's.expires_at', 's.last_seen_at', 's.revoked_at')
    .where({ 's.token_hash': p.tokenHash })
    .first(),
);

/**
 * What a token names. One SELECT by the unique token hash; the revoked/expired checks happen on the
 * row so the refusal can say which it was. A malformed token is refused before touching the database.
 */
export async function lookupSession(db: Db, token: string, now: Date = new Date()): Promise<SessionLookup> {
  if (!isWellFormedToken(token)) return { status: 'malformed' };
  const tokenHash = hashToken(token);
  let [row] = await selectSession(db, { tokenHash });
  // On a Galera cluster a session created through another node a moment ago may not be applied
  // here yet: an unknown token is looked up once more, waiting for this node to catch up.
  if (!row) [row] = (await rereadCausally(db, (q) => selectSession(q, { tokenHash }))) ?? [];
  if (!row) return { status: 'unknown' };
  if (row.revoked_at !== null) return { status: 'revoked' };
  const expiresAt = toDate(row.expires_at);
  if (expiresAt.getTime() <= now.getTime()) return { status: 'expired' };
  if (now.getTime() - toDate(row.last_seen_at).getTime() > LAST_SEEN_RESOLUTION_MS) {
    await db('sessions').where({ id: row.id }).update({ last_seen_at: now });
  }
  return { status: 'ok', session: { sessionId: Number(row.id), user: { id: Number(row.user_id), nickname: row.nickname }, expiresAt } };
}

/** Revokes one session (logout): other devices stay logged in. */
export async function revokeSession(db: Queryable, sessionId: number, now: Date = new Date()): Promise<void> {
  await db('sessions').where({ id: sessionId }).whereNull('revoked_at').update({ revoked_at: now });
}
