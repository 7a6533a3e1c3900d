import { createHash } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import mysql from 'mysql2/promise';
import { MYSQL_DRIVER_OPTIONS, mysqlConnectionFromUrl } from '../src/db/knex';

/*
 * The baseline: the fastest thing that does the same work as goods.scan / goods.stockIn. One
 * Fastify route each, no logger, no tRPC, no zod, no knex, no superjson: a mysql2 pool of the same
 * size and settings as the server's, the same SQL statements in the same order (session lookup by
 * token hash with the user's nickname, the caller's membership of the warehouse, indexed goods lookup; for stockIn the same transaction), and a
 * response body byte-for-byte the shape tRPC + superjson produce. run.ts checks that both answer
 * the same before measuring.
 *
 * Mirrors src/auth/sessions.ts lookupSession, src/goods/goods.ts scanGoods, src/goods/stock.ts
 * stockIn and src/domain/idempotency.ts idempotent. If those change their SQL, change this too.
 */

const LAST_SEEN_RESOLUTION_MS = 60_000;
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const MAX_QUANTITY = 2_147_483_647;
/** The goods columns the app's GOODS_COLUMNS lists, for the bare routes' SQL. */
export const GOODS_COLUMNS =
  '`id`, `directory_id`, `code`, `name`, `remarks`, `quantity`, `created_at`, `last_active_at`, `unit`, `price`, `min_quantity`';
const GOODS_SELECT = `select ${GOODS_COLUMNS} from \`goods\``;
/** Roles that may stock in (clerk and above), as src/access/access.ts says. */
const STOCKING_ROLES = new Set(['clerk', 'manager', 'owner']);

export interface GoodsRow {
  id: number;
  directory_id: number;
  code: string;
  name: string;
  remarks: string;
  quantity: number;
  created_at: Date;
  last_active_at: Date;
  unit: string;
  price: number | null;
  min_quantity: number | null;
}

type Q = Pick<mysql.PoolConnection, 'query'>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
  ) {
    super(code);
  }
}

export function goodsJson(r: GoodsRow) {
  return {
    id: Number(r.id),
    directoryId: Number(r.directory_id),
    code: r.code,
    name: r.name,
    remarks: r.remarks,
    quantity: Number(r.quantity),
    createdAt: r.created_at.toISOString(),
    lastActiveAt: r.last_active_at.toISOString(),
    unit: r.unit,
    price: r.price === null ? null : Number(r.price),
    minQuantity: r.min_quantity === null ? null : Number(r.min_quantity),
  };
}

const SCAN_META = { values: { createdAt: ['Date'], lastActiveAt: ['Date'] }, v: 1 };
const STOCK_IN_META = { values: { 'goods.createdAt': ['Date'], 'goods.lastActiveAt': ['Date'] }, v: 1 };

async function rows<T>(q: Q, sql: string, params: unknown[]): Promise<T[]> {
  const [result] = await q.query(sql, params);
  return result as T[];
}

async function exec(q: Q, sql: string, params: unknown[]): Promise<mysql.ResultSetHeader> {
  const [result] = await q.query(sql, params);
  return result as mysql.ResultSetHeader;
}

async function sessionUser(pool: mysql.Pool, token: unknown, now: Date): Promise<{ id: number; nickname: string | null }> {
  if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) throw new HttpError(401, 'UNAUTHORIZED');
  const hash = createHash('sha256').update(token, 'utf8').digest('hex');
  const [row] = await rows<{
    id: number;
    user_id: number;
    nickname: string | null;
    expires_at: Date;
    last_seen_at: Date;
    revoked_at: Date | null;
  }>(
    pool,
    'select `s`.`id`, `s`.`user_id`, `u`.`nickname`, `s`.`expires_at`, `s`.`last_seen_at`, `s`.`revoked_at` ' +
      'from `sessions` as `s` inner join `users` as `u` on `u`.`id` = `s`.`user_id` where `s`.`token_hash` = ? limit ?',
    [hash, 1],
  );
  if (!row || row.revoked_at !== null || row.expires_at.getTime() <= now.getTime()) throw new HttpError(401, 'UNAUTHORIZED');
  if (now.getTime() - row.last_seen_at.getTime() > LAST_SEEN_RESOLUTION_MS) {
    await exec(pool, 'update `sessions` set `last_seen_at` = ? where `id` = ?', [now, row.id]);
  }
  return { id: row.user_id, nickname: row.nickname };
}

const SCAN_SQL =
  'select `m`.`role`, `g`.`id`, `g`.`directory_id`, `g`.`code`, `g`.`name`, `g`.`remarks`, `g`.`quantity`, `g`.`created_at`, ' +
  '`g`.`last_active_at`, `g`.`unit`, `g`.`price`, `g`.`min_quantity` ' +
  'from `directories` as `d` inner join `directory_members` as `m` on `m`.`directory_id` = `d`.`id` and `m`.`user_id` = ? ' +
  'left join `goods` as `g` on `g`.`directory_id` = `d`.`id` and `g`.`code` = ? and `g`.`live` = ? ' +
  'where `d`.`id` = ? and `d`.`live` = ? limit ?';

function positiveInt(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new HttpError(400, 'BAD_REQUEST');
  return v;
}

function codeOf(v: unknown): string {
  if (typeof v !== 'string' || v.trim() === '') throw new HttpError(400, 'BAD_REQUEST');
  return v.trim();
}

async function stockInTx(
  conn: mysql.PoolConnection,
  user: { id: number; nickname: string | null },
  input: { directoryId: number; code: string; quantity: number },
  now: Date,
): Promise<{ goods: ReturnType<typeof goodsJson>; created: boolean }> {
  const [dir] = await rows<{ id: number; name: string; role: string }>(
    conn,
    'select `d`.`id`, `d`.`name`, `m`.`role` from `directories` as `d` STRAIGHT_JOIN `directory_members` as `m` ' +
      'on `m`.`directory_id` = `d`.`id` and `m`.`user_id` = ? where `d`.`id` = ? and `d`.`live` = ? limit ? for update',
    [user.id, input.directoryId, 1, 1],
  );
  if (!dir) throw new HttpError(404, 'NOT_FOUND');
  if (!STOCKING_ROLES.has(dir.role)) throw new HttpError(403, 'FORBIDDEN');
  await exec(conn, 'update `directories` set `use_count` = `use_count` + 1, `last_active_at` = ? where `id` = ?', [now, input.directoryId]);
  const [existing] = await rows<GoodsRow>(
    conn,
    `${GOODS_SELECT} where \`directory_id\` = ? and \`code\` = ? and \`live\` = ? limit ? for update`,
    [input.directoryId, input.code, 1, 1],
  );
  // The benchmark only stocks in existing codes; creating one is not what is measured.
  if (!existing) throw new HttpError(404, 'NOT_FOUND');
  const changed = await exec(
    conn,
    'update `goods` set `quantity` = `quantity` + ?, `last_active_at` = ? where `id` = ? and `quantity` <= ?',
    [input.quantity, now, existing.id, MAX_QUANTITY - input.quantity],
  );
  if (changed.affectedRows === 0) throw new HttpError(400, 'BAD_REQUEST');
  // As stockIn does: the row is locked, so the answer follows from it without reading it back.
  const goods: GoodsRow = { ...existing, quantity: Number(existing.quantity) + input.quantity, last_active_at: now };
  await exec(
    conn,
    'insert into `logs` (`user_id`, `actor_name`, `type`, `directory_id`, `directory_name`, `goods_id`, `goods_name`, `delta`, ' +
      '`quantity_after`, `note`, `counterpart_directory_id`, `counterpart_directory_name`, `target_user_id`, `created_at`) ' +
      'values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [
      user.id,
      user.nickname,
      'stock.in',
      input.directoryId,
      dir.name,
      goods.id,
      goods.name,
      input.quantity,
      goods.quantity,
      null,
      null,
      null,
      null,
      now,
    ],
  );
  return { goods: goodsJson(goods), created: false };
}

function canonicalInput(input: { directoryId: number; code: string; quantity: number }): string {
  return `{"code":${JSON.stringify(input.code)},"directoryId":${input.directoryId},"quantity":${input.quantity}}`;
}

/** The same statements idempotent() runs for a first-time requestId (prune is rare and skipped). */
async function idempotentStockIn(
  pool: mysql.Pool,
  user: { id: number; nickname: string | null },
  requestId: string,
  input: { directoryId: number; code: string; quantity: number },
  now: Date,
): Promise<{ goods: ReturnType<typeof goodsJson>; created: boolean }> {
  const print = createHash('sha256')
    .update(`goods.stockIn\n${canonicalInput(input)}`, 'utf8')
    .digest('hex');
  const conn = await pool.getConnection();
  try {
    await conn.query('BEGIN');
    try {
      await exec(
        conn,
        'insert into `request_results` (`created_at`, `fingerprint`, `procedure`, `request_id`, `response`, `user_id`) values (?, ?, ?, ?, ?, ?)',
        [now, print, 'goods.stockIn', requestId, '', user.id],
      );
      const value = await stockInTx(conn, user, input, now);
      const response = JSON.stringify({
        json: { ok: true, value },
        meta: { values: { 'value.goods.createdAt': ['Date'], 'value.goods.lastActiveAt': ['Date'] }, v: 1 },
      });
      await exec(conn, 'update `request_results` set `response` = ? where `user_id` = ? and `request_id` = ?', [
        response,
        user.id,
        requestId,
      ]);
      await conn.query('COMMIT');
      return value;
    } catch (err) {
      await conn.query('ROLLBACK');
      throw err;
    }
  } finally {
    conn.release();
  }
}

async function plainStockIn(
  pool: mysql.Pool,
  user: { id: number; nickname: string | null },
  input: { directoryId: number; code: string; quantity: number },
  now: Date,
): Promise<{ goods: ReturnType<typeof goodsJson>; created: boolean }> {
  const conn = await pool.getConnection();
  try {
    await conn.query('BEGIN');
    try {
      const value = await stockInTx(conn, user, input, now);
      await conn.query('COMMIT');
      return value;
    } catch (err) {
      await conn.query('ROLLBACK');
      throw err;
    }
  } finally {
    conn.release();
  }
}

function sendError(reply: FastifyReply, err: unknown) {
  if (err instanceof HttpError) return reply.code(err.status).send({ error: { json: { data: { code: err.code } } } });
  return reply.code(500).send({ error: { json: { data: { code: 'INTERNAL_SERVER_ERROR' } } } });
}

export function createBarePool(url: string, poolMax: number): mysql.Pool {
  const pool = mysql.createPool({
    ...mysqlConnectionFromUrl(url),
    ...MYSQL_DRIVER_OPTIONS,
    connectionLimit: poolMax,
  });
  // Same as knexConfig's afterCreate: the session speaks UTC.
  pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  return pool;
}

export async function buildBareServer(url: string, poolMax: number): Promise<FastifyInstance> {
  const pool = createBarePool(url, poolMax);
  const app = Fastify({ logger: false, forceCloseConnections: 'idle' });

  app.get('/bare/goods.scan', async (req, reply) => {
    try {
      const now = new Date();
      const user = await sessionUser(pool, req.headers['x-session-token'], now);
      const raw = (req.query as { input?: string }).input;
      const input = (JSON.parse(raw ?? 'null') as { json?: { directoryId?: unknown; code?: unknown } } | null)?.json;
      const directoryId = positiveInt(input?.directoryId);
      const code = codeOf(input?.code);
      // The same single statement scanGoods runs: the directory with the caller's membership,
      // left-joined to the goods.
      const [row] = await rows<Omit<GoodsRow, 'id'> & { id: number | null; role: string }>(pool, SCAN_SQL, [
        user.id,
        code,
        1,
        directoryId,
        1,
        1,
      ]);
      if (!row) throw new HttpError(404, 'NOT_FOUND');
      const data = row.id !== null ? { json: goodsJson({ ...row, id: row.id }), meta: SCAN_META } : { json: null };
      return reply.type('application/json').send(JSON.stringify({ result: { data } }));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.post('/bare/goods.stockIn', async (req, reply) => {
    try {
      const now = new Date();
      const user = await sessionUser(pool, req.headers['x-session-token'], now);
      const body = (req.body as { json?: Record<string, unknown> } | null)?.json;
      const input = {
        directoryId: positiveInt(body?.directoryId),
        code: codeOf(body?.code),
        quantity: body?.quantity === undefined ? 1 : positiveInt(body.quantity),
      };
      const requestId = body?.requestId;
      const value =
        typeof requestId === 'string'
          ? await idempotentStockIn(pool, user, requestId, input, now)
          : await plainStockIn(pool, user, input, now);
      return reply.type('application/json').send(JSON.stringify({ result: { data: { json: value, meta: STOCK_IN_META } } }));
    } catch (err) {
      return sendError(reply, err);
    }
  });

  app.addHook('onClose', async () => {
    await pool.end();
  });
  return app;
}
