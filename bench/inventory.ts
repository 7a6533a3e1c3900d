import { fork, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import mysql from 'mysql2/promise';
import { createSession } from '../src/auth/sessions';
import { insertUserWithDefaultDirectory } from '../src/auth/users';
import { loadConfig } from '../src/config';
import { createDb, MYSQL_DRIVER_OPTIONS, mysqlConnectionFromUrl, type Db } from '../src/db/knex';
import { migrateLatest } from '../src/db/migrate';
import { inTransaction } from '../src/db/tx';
import { insertDirectory } from '../src/directory/directories';
import { buildServer } from '../src/server';
import { completeStocktake, startStocktake } from '../src/stocktake/stocktakes';
import { GOODS_COLUMNS, type GoodsRow, goodsJson } from './bare';

/*
 * The inventory rows of the benchmark (issue 14), self-contained:
 *
 *   S  completing a stocktake of 5,000 counted lines (stocktake.complete's domain call, one
 *      transaction), against the same rows written the barest way: one multi-row UPDATE of the
 *      5,000 goods and one multi-row INSERT of their 5,000 history rows through mysql2, in one
 *      transaction. Reported as time and as the ratio subject / bare (lower is better).
 *   T  goods.transfer over HTTP (tRPC, the real server) against a bare Fastify + mysql2 route doing
 *      the same statements in the same order (session lookup, both warehouse rows locked with the
 *      membership lower id first, both goods rows locked, two conditional UPDATEs, two use_count
 *      bumps, two history rows). Reported as req/s and the ratio subject / bare (target ≥ 0.8).
 *
 * `npx tsx bench/inventory.ts [--quick] [--only S,T]`, or through `npm run bench -- --only S,T`.
 * Uses BENCH_DATABASE_URL (a database whose name contains "bench"; `_inventory` is appended and
 * that database is dropped and recreated). The servers of row T run in child processes of this
 * file, so that autocannon, here, never shares their event loop.
 */

export interface InventoryBenchOptions {
  rows: string[];
  quick: boolean;
  databaseUrl: string;
}

export interface InventoryRow {
  id: 'S' | 'T';
  title: string;
  subject: string;
  baseline: string;
  /** subject / baseline: of times for S (lower is better), of req/s for T (higher is better). */
  ratio: number;
  target: string;
  pass: boolean | null;
  notes: string[];
}

const DEFAULT_BENCH_DATABASE_URL = 'mysql://root@127.0.0.1:3306/scancode_bench';
const STOCKTAKE_LINES = 5_000;
const TRANSFER_USERS = 20;
const TRANSFER_CODES = 5;
const POOL_MAX = 10;

function say(msg: string): void {
  process.stdout.write(`[bench:inventory] ${msg}\n`);
}

function urlFor(baseUrl: string, database: string): string {
  const u = new URL(baseUrl);
  u.pathname = `/${database}`;
  return u.toString();
}

async function freshDatabase(baseUrl: string): Promise<{ url: string; name: string }> {
  const c = mysqlConnectionFromUrl(baseUrl);
  const name = `${c.database ?? 'scancode_bench'}_inventory`;
  if (!/bench/i.test(name)) throw new Error(`Refusing to drop and recreate "${name}": the name must contain "bench"`);
  const admin = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password });
  await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
  await admin.query(`CREATE DATABASE ${mysql.escapeId(name)} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await admin.end();
  return { url: urlFor(baseUrl, name), name };
}

async function dropDatabase(baseUrl: string, name: string): Promise<void> {
  const c = mysqlConnectionFromUrl(baseUrl);
  const admin = await mysql.createConnection({ host: c.host, port: c.port, user: c.user, password: c.password });
  await admin.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(name)}`);
  await admin.end();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// ---------------------------------------------------------------- row S

async function rowS(db: Db, url: string, quick: boolean): Promise<InventoryRow> {
  const now = () => new Date();
  const userId = await inTransaction(db, (trx) => insertUserWithDefaultDirectory(trx, { openid: 'bench-stocktake' }, now()));
  const actor = { id: userId, nickname: 'bench' };
  const directoryId = await inTransaction(db, (trx) => insertDirectory(trx, actor, 'stocktake bench', now()));
  const goods = Array.from({ length: STOCKTAKE_LINES }, (_, i) => ({
    user_id: userId,
    directory_id: directoryId,
    code: `st-${String(i).padStart(5, '0')}`,
    name: `goods ${i}`,
    remarks: '',
    quantity: 10,
    created_at: now(),
    last_active_at: now(),
    live: 1,
  }));
  for (let i = 0; i < goods.length; i += 1000) await db('goods').insert(goods.slice(i, i + 1000));
  const ids = (await db('goods').where({ directory_id: directoryId }).orderBy('id').pluck('id')) as number[];

  const conn = await mysql.createConnection({ ...mysqlConnectionFromUrl(url), ...MYSQL_DRIVER_OPTIONS });
  await conn.query("SET time_zone = '+00:00'");
  const reset = () => db('goods').where({ directory_id: directoryId }).update({ quantity: 10 });

  const subjectMs: number[] = [];
  const bareMs: number[] = [];
  const rounds = quick ? 2 : 5;
  for (let round = 0; round < rounds; round++) {
    // The subject: an open stocktake whose 5,000 lines each differ from the books by one.
    await reset();
    const st = await startStocktake(db, actor, { directoryId }, now());
    const at = now();
    const lines = goods.map((g) => ({ stocktake_id: st.id, code: g.code, counted: 11, expected: 10, counted_at: at, counted_by: userId }));
    for (let i = 0; i < lines.length; i += 1000) await db('stocktake_lines').insert(lines.slice(i, i + 1000));
    const t0 = performance.now();
    const done = await inTransaction(db, (trx) => completeStocktake(trx, actor, { id: st.id, uncounted: 'keep' }, now()));
    subjectMs.push(performance.now() - t0);
    if (done.adjusted !== STOCKTAKE_LINES) throw new Error(`stocktake adjusted ${done.adjusted}, expected ${STOCKTAKE_LINES}`);

    // The baseline: the same 5,000 quantities and 5,000 history rows, one statement each.
    await reset();
    const b0 = performance.now();
    const when = now();
    await conn.query('BEGIN');
    await conn.query(
      `UPDATE \`goods\` SET \`quantity\` = CASE \`id\` ${ids.map(() => 'WHEN ? THEN ?').join(' ')} END, \`last_active_at\` = ? WHERE \`id\` IN (${ids.map(() => '?').join(', ')})`,
      [...ids.flatMap((id) => [id, 11]), when, ...ids],
    );
    await conn.query(
      'INSERT INTO `logs` (`user_id`, `actor_name`, `type`, `directory_id`, `directory_name`, `goods_id`, `goods_name`, `delta`, `quantity_after`, `created_at`) VALUES ?',
      [ids.map((id, i) => [userId, 'bench', 'stock.count', directoryId, 'stocktake bench', id, goods[i]!.name, 1, 11, when])],
    );
    await conn.query('COMMIT');
    bareMs.push(performance.now() - b0);
    say(`row S round ${round + 1}/${rounds}: complete ${subjectMs.at(-1)!.toFixed(0)} ms, bare ${bareMs.at(-1)!.toFixed(0)} ms`);
  }
  await conn.end();
  const s = median(subjectMs);
  const b = median(bareMs);
  return {
    id: 'S',
    title: `stocktake.complete of ${STOCKTAKE_LINES.toLocaleString('en')} counted lines vs one bare multi-row UPDATE + INSERT`,
    subject: `${s.toFixed(0)} ms`,
    baseline: `${b.toFixed(0)} ms`,
    ratio: s / b,
    target: 'reported (time ratio, lower is better)',
    pass: null,
    notes: [
      `median of ${rounds} rounds; complete: ${subjectMs.map((x) => x.toFixed(0)).join(', ')} ms; bare: ${bareMs.map((x) => x.toFixed(0)).join(', ')} ms`,
    ],
  };
}

// ---------------------------------------------------------------- row T

interface TransferUser {
  token: string;
  a: number;
  b: number;
}

async function seedTransfers(db: Db): Promise<TransferUser[]> {
  const users: TransferUser[] = [];
  const at = new Date();
  for (let u = 0; u < TRANSFER_USERS; u++) {
    const userId = await inTransaction(db, (trx) => insertUserWithDefaultDirectory(trx, { openid: `bench-transfer-${u}` }, at));
    const actor = { id: userId, nickname: `bench ${u}` };
    const a = await inTransaction(db, (trx) => insertDirectory(trx, actor, 'A', at));
    const b = await inTransaction(db, (trx) => insertDirectory(trx, actor, 'B', at));
    for (const dir of [a, b]) {
      await db('goods').insert(
        Array.from({ length: TRANSFER_CODES }, (_, i) => ({
          user_id: userId,
          directory_id: dir,
          code: `tr-${i}`,
          name: `transfer ${i}`,
          remarks: '',
          quantity: 1_000_000,
          created_at: at,
          last_active_at: at,
          live: 1,
        })),
      );
    }
    const { token } = await createSession(db, userId, 30, at);
    users.push({ token, a, b });
  }
  return users;
}

/** One request body after another: users in turn, each moving one unit A→B, then B→A, over its codes. */
function transferRequests(users: TransferUser[], prefix: string) {
  let n = 0;
  return () => {
    const i = n++;
    const u = users[i % users.length]!;
    const round = Math.floor(i / users.length);
    const [from, to] = round % 2 === 0 ? [u.a, u.b] : [u.b, u.a];
    const input = { fromDirectoryId: from, toDirectoryId: to, code: `tr-${Math.floor(round / 2) % TRANSFER_CODES}`, quantity: 1 };
    return {
      method: 'POST' as const,
      path: `${prefix}/goods.transfer`,
      headers: { 'content-type': 'application/json', 'x-session-token': u.token },
      body: JSON.stringify({ json: input }),
    };
  };
}

interface Measured {
  reqPerSec: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, next: ReturnType<typeof transferRequests>, durationSec: number, connections: number): Promise<Measured> {
  const result = await autocannon({
    url,
    connections,
    pipelining: 1,
    duration: durationSec,
    requests: [
      {
        method: 'POST',
        path: '/',
        setupRequest: (req) => {
          const r = next();
          return { ...req, ...r };
        },
      },
    ],
  });
  return { reqPerSec: result.requests.average, non2xx: result.non2xx, errors: result.errors + result.timeouts };
}

function startChild(kind: 'trpc' | 'bare', url: string): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(__filename, ['--serve', kind], {
    env: { ...process.env, BENCH_INVENTORY_DB: url },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server did not start within 60 s`)), 60_000);
    child.once('message', (m: { port?: number; error?: string }) => {
      clearTimeout(timer);
      if (m.port) resolve({ child, port: m.port });
      else reject(new Error(m.error ?? `${kind} server failed`));
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited with ${code}`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send('stop');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function rowT(db: Db, url: string, quick: boolean): Promise<InventoryRow> {
  const users = await seedTransfers(db);
  const trpc = await startChild('trpc', url);
  const bare = await startChild('bare', url);
  try {
    // Both must answer the same before their speed is compared.
    const probe = async (port: number, prefix: string) => {
      const r = transferRequests(users.slice(0, 1), prefix)();
      const res = await fetch(`http://127.0.0.1:${port}${r.path}`, { method: 'POST', headers: r.headers, body: r.body });
      const body = (await res.json()) as {
        result?: { data?: { json?: { from: { quantity: number }; to: { quantity: number }; created: boolean } } };
      };
      if (res.status !== 200 || !body.result?.data?.json)
        throw new Error(`${prefix}/goods.transfer answered ${res.status}: ${JSON.stringify(body)}`);
      return body.result.data.json;
    };
    const a = await probe(trpc.port, '/trpc');
    const b = await probe(bare.port, '/bare');
    if (b.from.quantity !== a.from.quantity - 1 || b.to.quantity !== a.to.quantity + 1 || a.created || b.created) {
      throw new Error(`the bare transfer answers differently: ${JSON.stringify({ trpc: a, bare: b })}`);
    }
    const durationSec = quick ? 2 : 6;
    const connections = quick ? 10 : 20;
    const rounds = quick ? 1 : 2;
    const subject: Measured[] = [];
    const baseline: Measured[] = [];
    await load(`http://127.0.0.1:${trpc.port}`, transferRequests(users, '/trpc'), 1, connections);
    await load(`http://127.0.0.1:${bare.port}`, transferRequests(users, '/bare'), 1, connections);
    for (let round = 0; round < rounds; round++) {
      subject.push(await load(`http://127.0.0.1:${trpc.port}`, transferRequests(users, '/trpc'), durationSec, connections));
      baseline.push(await load(`http://127.0.0.1:${bare.port}`, transferRequests(users, '/bare'), durationSec, connections));
      say(
        `row T round ${round + 1}/${rounds}: tRPC ${subject.at(-1)!.reqPerSec.toFixed(0)} req/s, bare ${baseline.at(-1)!.reqPerSec.toFixed(0)} req/s`,
      );
    }
    const best = (ms: Measured[]) => ms.reduce((x, y) => (y.reqPerSec > x.reqPerSec ? y : x));
    const s = best(subject);
    const b2 = best(baseline);
    const ratio = s.reqPerSec / b2.reqPerSec;
    const failures = [...subject, ...baseline].reduce((n, m) => n + m.non2xx + m.errors, 0);
    return {
      id: 'T',
      title: 'goods.transfer over tRPC vs a bare Fastify + mysql2 route, same statements',
      subject: `${s.reqPerSec.toFixed(0)} req/s`,
      baseline: `${b2.reqPerSec.toFixed(0)} req/s`,
      ratio,
      target: '≥ 0.8×',
      pass: ratio >= 0.8 && failures === 0,
      notes: [
        `${connections} connections, ${TRANSFER_USERS} users, best of ${rounds} × ${durationSec}s per side; non-2xx or errors: ${failures}`,
      ],
    };
  } finally {
    await stopChild(trpc.child);
    await stopChild(bare.child);
  }
}

// ---------------------------------------------------------------- the bare transfer route

const RANK: Record<string, number> = { viewer: 1, clerk: 2, manager: 3, owner: 4 };

const TRANSFER_META = {
  values: { 'from.createdAt': ['Date'], 'from.lastActiveAt': ['Date'], 'to.createdAt': ['Date'], 'to.lastActiveAt': ['Date'] },
  v: 1,
};

async function buildBareTransfer(url: string) {
  const pool = mysql.createPool({ ...mysqlConnectionFromUrl(url), ...MYSQL_DRIVER_OPTIONS, connectionLimit: POOL_MAX });
  pool.on('connection', (conn) => {
    // The callback connection under the promise pool: its query returns a Query, not a promise.
    (conn as unknown as { query(sql: string): void }).query("SET time_zone = '+00:00'");
  });
  const app = Fastify({ logger: false });
  app.post('/bare/goods.transfer', async (req, reply) => {
    const now = new Date();
    const token = req.headers['x-session-token'];
    const input = (req.body as { json: { fromDirectoryId: number; toDirectoryId: number; code: string; quantity?: number } }).json;
    const quantity = input.quantity ?? 1;
    if (typeof token !== 'string') return reply.code(401).send({ error: 'UNAUTHORIZED' });
    const hash = createHash('sha256').update(token, 'utf8').digest('hex');
    const [sessions] = (await pool.query(
      'select `s`.`id`, `s`.`user_id`, `u`.`nickname`, `s`.`expires_at`, `s`.`last_seen_at`, `s`.`revoked_at` from `sessions` as `s` inner join `users` as `u` on `u`.`id` = `s`.`user_id` where `s`.`token_hash` = ? limit ?',
      [hash, 1],
    )) as unknown as [
      { id: number; user_id: number; nickname: string | null; expires_at: Date; last_seen_at: Date; revoked_at: Date | null }[],
    ];
    const session = sessions[0];
    if (!session || session.revoked_at !== null || session.expires_at <= now) return reply.code(401).send({ error: 'UNAUTHORIZED' });
    if (now.getTime() - session.last_seen_at.getTime() > 60_000) {
      await pool.query('update `sessions` set `last_seen_at` = ? where `id` = ?', [now, session.id]);
    }
    const userId = session.user_id;
    const conn = await pool.getConnection();
    try {
      await conn.query('BEGIN');
      const lock = async (id: number) => {
        const [rows] = (await conn.query(
          'select `d`.`id`, `d`.`name`, `m`.`role` from `directories` as `d` inner join `directory_members` as `m` on `m`.`directory_id` = `d`.`id` and `m`.`user_id` = ? where `d`.`id` = ? and `d`.`live` = ? limit ? for update',
          [userId, id, 1, 1],
        )) as unknown as [{ id: number; name: string; role: string }[]];
        const dir = rows[0];
        if (!dir) throw Object.assign(new Error('NOT_FOUND'), { status: 404 });
        if ((RANK[dir.role] ?? 0) < RANK.clerk!) throw Object.assign(new Error('FORBIDDEN'), { status: 403 });
        return dir;
      };
      const [low, high] = [input.fromDirectoryId, input.toDirectoryId].sort((x, y) => x - y) as [number, number];
      const lowDir = await lock(low);
      const highDir = await lock(high);
      const [fromDir, toDir] = lowDir.id === input.fromDirectoryId ? [lowDir, highDir] : [highDir, lowDir];
      const goodsFor = async (dirId: number) => {
        const [rows] = (await conn.query(
          `select ${GOODS_COLUMNS} from \`goods\` where \`directory_id\` = ? and \`code\` = ? and \`live\` = ? limit ? for update`,
          [dirId, input.code, 1, 1],
        )) as unknown as [GoodsRow[]];
        return rows[0];
      };
      const source = await goodsFor(fromDir.id);
      if (!source) throw Object.assign(new Error('NOT_FOUND'), { status: 404 });
      const [taken] = (await conn.query(
        'update `goods` set `quantity` = `quantity` - ?, `last_active_at` = ? where `id` = ? and `quantity` >= ?',
        [quantity, now, source.id, quantity],
      )) as unknown as [{ affectedRows: number }];
      if (taken.affectedRows === 0) throw Object.assign(new Error('PRECONDITION_FAILED'), { status: 412 });
      const target = await goodsFor(toDir.id);
      // The benchmark only moves goods that exist in both warehouses.
      if (!target) throw Object.assign(new Error('NOT_FOUND'), { status: 404 });
      await conn.query('update `goods` set `quantity` = `quantity` + ?, `last_active_at` = ? where `id` = ? and `quantity` <= ?', [
        quantity,
        now,
        target.id,
        2_147_483_647 - quantity,
      ]);
      for (const id of [low, high]) {
        await conn.query('update `directories` set `use_count` = `use_count` + 1, `last_active_at` = ? where `id` = ?', [now, id]);
      }
      const from = { ...source, quantity: Number(source.quantity) - quantity, last_active_at: now };
      const to = { ...target, quantity: Number(target.quantity) + quantity, last_active_at: now };
      const history =
        'insert into `logs` (`actor_name`, `counterpart_directory_id`, `counterpart_directory_name`, `created_at`, `delta`, `directory_id`, `directory_name`, `goods_id`, `goods_name`, `note`, `quantity_after`, `target_user_id`, `type`, `user_id`) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)';
      await conn.query(history, [
        session.nickname,
        toDir.id,
        toDir.name,
        now,
        -quantity,
        fromDir.id,
        fromDir.name,
        from.id,
        from.name,
        null,
        from.quantity,
        null,
        'transfer.out',
        userId,
      ]);
      await conn.query(history, [
        session.nickname,
        fromDir.id,
        fromDir.name,
        now,
        quantity,
        toDir.id,
        toDir.name,
        to.id,
        to.name,
        null,
        to.quantity,
        null,
        'transfer.in',
        userId,
      ]);
      await conn.query('COMMIT');
      return reply
        .header('content-type', 'application/json')
        .send(
          JSON.stringify({ result: { data: { json: { from: goodsJson(from), to: goodsJson(to), created: false }, meta: TRANSFER_META } } }),
        );
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      const status = (err as { status?: number }).status;
      if (status) return reply.code(status).send({ error: (err as Error).message });
      throw err;
    } finally {
      conn.release();
    }
  });
  app.addHook('onClose', async () => {
    await pool.end();
  });
  return app;
}

async function serve(kind: string): Promise<void> {
  const url = process.env.BENCH_INVENTORY_DB!;
  try {
    const app =
      kind === 'bare'
        ? await buildBareTransfer(url)
        : await buildServer(
            loadConfig({
              NODE_ENV: 'production',
              WECHAT_APPID: 'wxbench0000000000',
              WECHAT_SECRET: 'bench-secret-unused',
              WECHAT_API_BASE: 'http://127.0.0.1:9',
              DATABASE_URL: url,
              DB_POOL_MAX: String(POOL_MAX),
              LOG_LEVEL: 'warn',
              RATE_LIMIT_MAX: '10000000',
            }),
          );
    await app.listen({ host: '127.0.0.1', port: 0 });
    process.send?.({ port: (app.server.address() as AddressInfo).port });
    process.on('message', (m) => {
      if (m === 'stop') void app.close().then(() => process.exit(0));
    });
  } catch (err) {
    process.send?.({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  }
}

// ---------------------------------------------------------------- driver

export async function runInventoryBench(opts: InventoryBenchOptions): Promise<InventoryRow[]> {
  const wants = (id: string) => opts.rows.length === 0 || opts.rows.includes(id);
  const { url, name } = await freshDatabase(opts.databaseUrl);
  const db = createDb({ url, poolMax: POOL_MAX });
  const rows: InventoryRow[] = [];
  try {
    await migrateLatest(db);
    if (wants('S')) {
      say(`row S: completing a stocktake of ${STOCKTAKE_LINES.toLocaleString('en')} lines vs bare multi-row statements`);
      rows.push(await rowS(db, url, opts.quick));
    }
    if (wants('T')) {
      say('row T: goods.transfer vs bare route');
      rows.push(await rowT(db, url, opts.quick));
    }
  } finally {
    await db.destroy();
    await dropDatabase(opts.databaseUrl, name).catch(() => undefined);
  }
  process.stdout.write(`\n${renderRows(rows)}\n`);
  const dir = path.resolve(__dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `inventory-${new Date().toISOString().replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`);
  writeFileSync(
    file,
    JSON.stringify({ machine: { cpus: os.cpus().length, node: process.version, loadavg: os.loadavg() }, options: opts, rows }, null, 2),
  );
  say(`results written to ${path.relative(process.cwd(), file)}`);
  return rows;
}

export function renderRows(rows: InventoryRow[]): string {
  const lines = ['row | what | subject | baseline | ratio | target', '--- | --- | --- | --- | --- | ---'];
  for (const r of rows) {
    const verdict = r.pass === null ? '' : r.pass ? ' PASS' : ' MISS';
    lines.push(`${r.id} | ${r.title} | ${r.subject} | ${r.baseline} | ${r.ratio.toFixed(2)} | ${r.target}${verdict}`);
    for (const n of r.notes) lines.push(`  ${r.id}: ${n}`);
  }
  return lines.join('\n');
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  if (argv[0] === '--serve') {
    void serve(argv[1] ?? 'trpc');
  } else {
    const only = argv.includes('--only') ? (argv[argv.indexOf('--only') + 1] ?? '').split(',').filter(Boolean) : [];
    runInventoryBench({
      rows: only,
      quick: argv.includes('--quick'),
      databaseUrl: process.env.BENCH_DATABASE_URL || DEFAULT_BENCH_DATABASE_URL,
    }).then(
      () => process.exit(0),
      (err: unknown) => {
        console.error('[bench:inventory] failed:', err instanceof Error ? (err.stack ?? err.message) : err);
        process.exit(2);
      },
    );
  }
}
