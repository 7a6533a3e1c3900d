import { fork } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import ExcelJS from 'exceljs';
import mysql from 'mysql2';
import { createSession } from '../src/auth/sessions';
import { insertUserWithDefaultDirectory } from '../src/auth/users';
import { loadConfig } from '../src/config';
import { MYSQL_DRIVER_OPTIONS, mysqlConnectionFromUrl } from '../src/db/knex';
import { buildServer } from '../src/server';
import { DEFAULT_BENCH_DATABASE_URL } from './options';
import { databaseUrl, dropDatabase, freshDatabase } from './seed';

/*
 * `npx tsx bench/files.ts [--goods N] [--import-rows N] [--keep]` (npm run bench:files): spreadsheets.
 *
 * 1. Exports N goods (default 100,000) over HTTP, as XLSX and as CSV, in rows/s, each against a bare
 *    floor: the same rows through a mysql2 stream written as CSV text, with no HTTP, no knex and no
 *    spreadsheet library. The server runs in a child process, which samples its own RSS; the table
 *    shows the peak during each export (and its RSS before).
 * 2. Imports a 20,000-row XLSX of new goods: the upload (read, check, store the preview), then
 *    import.confirm, each timed.
 *
 * Self-contained on purpose: it needs nothing of bench/run.ts, only its database conventions
 * (BENCH_DATABASE_URL; a database name containing "bench", dropped and made again).
 */

const argv = process.argv.slice(2);
const numberArg = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};

interface ChildReport {
  type: 'ready' | 'rss';
  port?: number;
  rssBefore?: number;
  rssPeak?: number;
}

/** The server process: the real server, sampling its RSS every 10 ms between "reset" and "report". */
async function serve(): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'production',
    WECHAT_APPID: 'wxbench0000000000',
    WECHAT_SECRET: 'bench-secret-unused',
    WECHAT_API_BASE: 'http://127.0.0.1:9',
    DATABASE_URL: process.env.BENCH_FILES_DB_URL!,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '10000000',
  });
  const app = await buildServer(config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  let before = process.memoryUsage.rss();
  let peak = before;
  setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10).unref();
  process.on('message', (m: string) => {
    if (m === 'reset') {
      before = process.memoryUsage.rss();
      peak = before;
      process.send!({ type: 'rss', rssBefore: before, rssPeak: peak } satisfies ChildReport);
    } else if (m === 'report') {
      peak = Math.max(peak, process.memoryUsage.rss());
      process.send!({ type: 'rss', rssBefore: before, rssPeak: peak } satisfies ChildReport);
    } else if (m === 'stop') {
      void app.close().then(() => process.exit(0));
    }
  });
  process.send!({ type: 'ready', port: (app.server.address() as AddressInfo).port } satisfies ChildReport);
}

function say(msg: string): void {
  process.stdout.write(`[bench:files] ${msg}\n`);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** A CSV line per row, quoted where needed: the least work that still writes the same text. */
function csvLine(values: unknown[]): string {
  return `${values
    .map((v) => {
      const s = v === null || v === undefined ? '' : v instanceof Date ? v.toISOString() : String(v);
      return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    })
    .join(',')}\r\n`;
}

async function bareCsv(url: string, directoryId: number): Promise<{ rows: number; seconds: number }> {
  const conn = mysql.createConnection({ ...mysqlConnectionFromUrl(url), ...MYSQL_DRIVER_OPTIONS });
  try {
    const start = performance.now();
    let rows = 0;
    let bytes = 0;
    const stream = conn
      .query(
        'SELECT code, name, quantity, unit, price, min_quantity, remarks, last_active_at FROM goods WHERE directory_id = ? AND live = 1 ORDER BY id',
        [directoryId],
      )
      .stream();
    for await (const row of stream as AsyncIterable<Record<string, unknown>>) {
      bytes += Buffer.byteLength(csvLine(Object.values(row)));
      rows++;
    }
    if (bytes === 0) throw new Error('the bare stream read nothing');
    return { rows, seconds: (performance.now() - start) / 1000 };
  } finally {
    await new Promise((resolve) => conn.end(resolve));
  }
}

async function trpc(base: string, token: string, path: string, input: unknown): Promise<unknown> {
  const res = await fetch(`${base}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-session-token': token },
    body: JSON.stringify({ json: input }),
  });
  const body = (await res.json()) as { result?: { data: { json: unknown } }; error?: unknown };
  if (!res.ok || !body.result) throw new Error(`${path} failed: ${JSON.stringify(body.error)}`);
  return body.result.data.json;
}

async function main(): Promise<void> {
  const goodsCount = numberArg('--goods', 100_000);
  const importRows = numberArg('--import-rows', 20_000);
  const baseUrl = process.env.BENCH_DATABASE_URL || DEFAULT_BENCH_DATABASE_URL;
  const name = 'scancode_bench_files';
  say(`seeding ${goodsCount} goods into ${name}`);
  const { db } = await freshDatabase(baseUrl, name);
  const url = databaseUrl(baseUrl, name);
  const now = new Date();
  const userId = await db.transaction((trx) => insertUserWithDefaultDirectory(trx, { openid: 'bench-files' }, now));
  const { token } = await createSession(db, userId, 30, now);
  const [dir] = (await db('directories').select('id').where({ user_id: userId })) as { id: number }[];
  const directoryId = dir!.id;
  for (let i = 0; i < goodsCount; i += 1000) {
    const rows = [];
    for (let n = i; n < Math.min(goodsCount, i + 1000); n++) {
      rows.push({
        user_id: userId,
        directory_id: directoryId,
        code: `69${String(n).padStart(11, '0')}`,
        name: `商品 ${n}`,
        remarks: n % 3 ? `备注 ${n}` : '',
        quantity: n % 1000,
        unit: '件',
        price: n,
        min_quantity: n % 7 ? 10 : null,
        created_at: now,
        last_active_at: now,
        live: 1,
      });
    }
    await db('goods').insert(rows);
  }
  await db.destroy();

  const child = fork(__filename, ['--serve'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_FILES_DB_URL: url },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () => new Promise<ChildReport>((resolve) => child.once('message', (m: ChildReport) => resolve(m)));
  const ready = await next();
  const base = `http://127.0.0.1:${ready.port}`;

  const results: string[] = [];
  try {
    const bare = await bareCsv(url, directoryId);
    const bareRate = bare.rows / bare.seconds;
    say(`bare mysql2 stream → CSV: ${bare.rows} rows in ${bare.seconds.toFixed(2)} s (${bareRate.toFixed(0)} rows/s)`);
    results.push(`| bare mysql2 stream → CSV text (floor) | ${bare.seconds.toFixed(2)} s | ${bareRate.toFixed(0)} | 1.00 | – |`);

    for (const format of ['csv', 'xlsx'] as const) {
      child.send('reset');
      const { rssBefore } = await next();
      const start = performance.now();
      const link = (await trpc(base, token, 'export.create', { kind: 'goods', directoryId, format })) as { url: string };
      const res = await fetch(base + link.url);
      let bytes = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) bytes += chunk.length;
      const seconds = (performance.now() - start) / 1000;
      child.send('report');
      const { rssPeak } = await next();
      const rate = goodsCount / seconds;
      say(
        `${format}: ${(bytes / 1e6).toFixed(1)} MB in ${seconds.toFixed(2)} s, ${rate.toFixed(0)} rows/s, RSS ${mb(rssBefore!)} → peak ${mb(rssPeak!)}`,
      );
      results.push(
        `| export ${goodsCount} goods as ${format.toUpperCase()} (${(bytes / 1e6).toFixed(1)} MB) | ${seconds.toFixed(2)} s | ${rate.toFixed(0)} | ${(rate / bareRate).toFixed(2)} | ${mb(rssBefore!)} → ${mb(rssPeak!)} |`,
      );
    }

    // The import: new codes, every column filled, as a shop's own list would be.
    const wb = new ExcelJS.Workbook();
    const sheet = wb.addWorksheet('Sheet1');
    sheet.addRow(['条码 code', '名称 name', '数量 quantity', '单位 unit', '单价 price', '安全库存 minQuantity', '备注 remarks']);
    for (let n = 0; n < importRows; n++)
      sheet.addRow([`IMP${String(n).padStart(8, '0')}`, `导入 ${n}`, n % 50, '个', (n % 1000) / 10, 5, '']);
    const file = Buffer.from(await wb.xlsx.writeBuffer());
    child.send('reset');
    const { rssBefore } = await next();
    const form = new FormData();
    form.append('directoryId', String(directoryId));
    form.append('file', new Blob([file]), 'import.xlsx');
    const t0 = performance.now();
    const up = await fetch(`${base}/files/imports`, { method: 'POST', headers: { 'x-session-token': token }, body: form });
    const { importId } = (await up.json()) as { importId: number };
    const t1 = performance.now();
    const confirmed = await trpc(base, token, 'import.confirm', { importId });
    const t2 = performance.now();
    child.send('report');
    const { rssPeak } = await next();
    say(
      `import ${importRows} rows (${(file.length / 1e6).toFixed(1)} MB): upload+preview ${((t1 - t0) / 1000).toFixed(2)} s, confirm ${((t2 - t1) / 1000).toFixed(2)} s ${JSON.stringify(confirmed)}`,
    );
    results.push(
      `| import ${importRows} rows XLSX (${(file.length / 1e6).toFixed(1)} MB): upload, read, check, store preview | ${((t1 - t0) / 1000).toFixed(2)} s | ${(importRows / ((t1 - t0) / 1000)).toFixed(0)} | – | ${mb(rssBefore!)} → ${mb(rssPeak!)} |`,
      `| import.confirm of those ${importRows} rows (create, history) | ${((t2 - t1) / 1000).toFixed(2)} s | ${(importRows / ((t2 - t1) / 1000)).toFixed(0)} | – | – |`,
    );
  } finally {
    child.send('stop');
    await new Promise((resolve) => child.once('exit', resolve));
    if (!argv.includes('--keep')) await dropDatabase(baseUrl, name);
  }
  process.stdout.write(
    `\n| what | time | rows/s | ratio to bare | server RSS before → peak |\n| --- | --- | --- | --- | --- |\n${results.join('\n')}\n`,
  );
}

if (argv.includes('--serve')) {
  serve().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
