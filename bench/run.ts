import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { buildServerBundle } from '../scripts/build-server';
import type { Db } from '../src/db/knex';
import { runCorrectness, type CorrectnessResult } from './correctness';
import { runInventoryBench } from './inventory';
import { compare, type LoadSpec, type Measurement } from './load';
import { machineInfo, parseOptions, type BenchOptions } from './options';
import { errorCount, renderTable, writeResults, type RowResult, type Target } from './report';
import { batchScanRequests, nextRequestId, scanInput, scanRequests, stockInRequests } from './requests';
import {
  benchDatabaseName,
  dropDatabase,
  freshDatabase,
  seedDatabase,
  seedHot,
  serverVersion,
  type BenchUser,
  type HotFixture,
  type SeedResult,
} from './seed';
import type { ChildMessage, ServerProcessInit, ServerSpec } from './server-process';

/*
 * `npm run bench [-- --quick]`: see bench/README.md. Seeds MariaDB, starts the real server (and a
 * bare Fastify + mysql2 baseline) in a child process, drives both with autocannon from here, prints
 * one table and writes it as JSON under bench/results/. Exit code 1 only when the script fails or
 * row 5 finds a lost (or doubled) update: the throughput targets are reported, never enforced.
 */

const RESULTS_DIR = path.resolve(__dirname, 'results');
/**
 * The server processes run compiled, as `npm start` runs the server (scripts/build-server.ts): the
 * real server and the bare baseline alike, with production's node flags.
 */
const SERVER_PROCESS_JS = path.resolve(__dirname, '../dist/bench/server-process.js');
const SERVER_NODE_FLAGS = ['--enable-source-maps'];
const BATCH_SIZE = 5;
const THROUGHPUT_TARGET = 0.8;
const SCALE_P99_TARGET = 1.5;
/** Row 4 measures latency with a few connections: the work of a request, not the queue before it. */
const SCALE_CONNECTIONS = 4;

function say(msg: string): void {
  process.stdout.write(`[bench] ${msg}\n`);
}

interface Servers {
  child: ChildProcess;
  ports: Record<string, number>;
  logFile: string;
  /** CPU microseconds the process has used so far. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

/** One server process; `group` names its log file and its profile directory. */
async function startServers(group: string, init: ServerProcessInit, opts: BenchOptions, nodeFlags: string[] = []): Promise<Servers> {
  const logFile = path.join(os.tmpdir(), `scancode-bench-${process.pid}-${group}.log`);
  const fd = openSync(logFile, 'w');
  const profileDir = path.join(RESULTS_DIR, 'profiles', group);
  if (opts.profile) mkdirSync(profileDir, { recursive: true });
  const child = fork(SERVER_PROCESS_JS, [], {
    // Log lines go to a file, as a deployment writes them somewhere: their cost is real.
    stdio: ['ignore', fd, 'inherit', 'ipc'],
    env: { ...process.env, BENCH_SERVERS: JSON.stringify(init) },
    execArgv: [...SERVER_NODE_FLAGS, ...nodeFlags, ...(opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
  });
  closeSync(fd);
  const ports = await new Promise<Record<string, number>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server process did not start within 60 s')), 60_000);
    child.once('message', (m: ChildMessage) => {
      clearTimeout(timer);
      if (m.type === 'ready') resolve(m.ports);
      else if (m.type === 'failed') reject(new Error(`the server process failed to start:\n${m.error}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server process exited with code ${code} before it was ready`));
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.send({ type: 'stop' });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(timer);
  };
  let nextId = 1;
  const cpu = () =>
    new Promise<number>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => reject(new Error('the server process did not report its CPU time')), 10_000);
      const onMessage = (m: ChildMessage) => {
        if (m.type !== 'cpu' || m.id !== id) return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve(m.micros);
      };
      child.on('message', onMessage);
      child.send({ type: 'cpu', id });
    });
  return { child, ports, logFile, cpu, stop };
}

function countLines(file: string): number {
  let n = 0;
  const text = readFileSync(file, 'utf8');
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** Log lines at warn (40) or above, grouped by message: they mean something went wrong under load. */
function problemLines(file: string): { count: number; messages: Record<string, number> } {
  const messages: Record<string, number> = {};
  let count = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    let key: string | null = null;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { type?: string; message?: string; code?: string } };
      if ((entry.level ?? 0) >= 40) {
        const err = entry.err ? `: ${entry.err.type ?? ''} ${entry.err.code ?? ''} ${entry.err.message ?? ''}`.replace(/\s+/g, ' ') : '';
        key = `${entry.msg ?? ''}${err}`.slice(0, 300);
      }
    } catch {
      key = line.slice(0, 300);
    }
    if (key !== null) {
      count++;
      messages[key] = (messages[key] ?? 0) + 1;
    }
  }
  return { count, messages };
}

async function call(base: string, pathAndQuery: string, token: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(base + pathAndQuery, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'x-session-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // keep the text: the message says what came back
  }
  return { status: res.status, json };
}

type StockInReply = { result: { data: { json: { goods: Record<string, unknown>; created: boolean }; meta: unknown } } };

/**
 * The baseline must do the same work and answer the same bytes, or the ratio means nothing: check
 * both sides on the same inputs before measuring.
 */
async function preflight(trpc: string, bare: string, user: BenchUser): Promise<void> {
  const notImplemented = (what: string, r: { status: number; json: unknown }) =>
    new Error(`${what} answered HTTP ${r.status}: ${JSON.stringify(r.json).slice(0, 300)}\n(is it implemented yet?)`);
  for (const code of [user.codes[0]!, `${user.codes[0]!}-missing`]) {
    const q = `?input=${encodeURIComponent(JSON.stringify(scanInput({ user, code })))}`;
    const a = await call(trpc, `/trpc/goods.scan${q}`, user.token);
    const b = await call(bare, `/bare/goods.scan${q}`, user.token);
    if (a.status !== 200) throw notImplemented('goods.scan', a);
    if (b.status !== 200 || !isDeepStrictEqual(a.json, b.json)) {
      throw new Error(
        `the bare scan route answers differently from goods.scan:\n tRPC ${JSON.stringify(a.json)}\n bare ${JSON.stringify(b.json)}`,
      );
    }
  }
  for (const withRequestId of [false, true]) {
    const input = { directoryId: user.directoryId, code: user.codes[1]!, quantity: 1 };
    const rid = () => (withRequestId ? { requestId: nextRequestId() } : {});
    const a = await call(trpc, '/trpc/goods.stockIn', user.token, { json: { ...input, ...rid() } });
    const b = await call(bare, '/bare/goods.stockIn', user.token, { json: { ...input, ...rid() } });
    if (a.status !== 200) throw notImplemented('goods.stockIn', a);
    const ga = (a.json as StockInReply).result.data;
    const gb = (b.json as StockInReply | undefined)?.result?.data;
    const strip = (g: Record<string, unknown>) => ({ ...g, quantity: 0, lastActiveAt: '' });
    const same =
      b.status === 200 &&
      gb !== undefined &&
      gb.json.created === ga.json.created &&
      Number(gb.json.goods.quantity) === Number(ga.json.goods.quantity) + 1 &&
      isDeepStrictEqual(strip(ga.json.goods), strip(gb.json.goods)) &&
      isDeepStrictEqual(ga.meta, gb.meta);
    if (!same) {
      throw new Error(
        `the bare stockIn route answers differently from goods.stockIn (requestId: ${withRequestId}):\n tRPC ${JSON.stringify(a.json)}\n bare ${JSON.stringify(b.json)}`,
      );
    }
  }
}

function throughputRow(
  id: string,
  title: string,
  labels: [string, string],
  r: { subject: Measurement; baseline: Measurement },
  target: number | null,
  notes: string[] = [],
): RowResult {
  const ratio = r.baseline.reqPerSec > 0 ? r.subject.reqPerSec / r.baseline.reqPerSec : 0;
  const targets: Target[] = target === null ? [] : [{ text: `≥ ${target}×`, pass: ratio >= target }];
  return {
    id,
    title,
    subjectLabel: labels[0],
    baselineLabel: labels[1],
    subject: r.subject,
    baseline: r.baseline,
    ratio,
    ratioOf: 'throughput',
    errors: errorCount(r.subject) + errorCount(r.baseline),
    targets,
    notes,
  };
}

async function main(): Promise<number> {
  // The several-machines benchmark has a runner of its own (bench/cluster.ts).
  if (process.argv.includes('--cluster')) return (await import('./cluster')).runClusterBench(process.argv.slice(2));
  const opts = parseOptions(process.argv.slice(2));
  // Rows S and T (bench/inventory.ts) use a database and servers of their own; they run when named.
  const inventoryRows = opts.only.filter((id) => id === 'S' || id === 'T');
  if (inventoryRows.length > 0) {
    await runInventoryBench({ rows: inventoryRows, quick: opts.quick, databaseUrl: opts.databaseUrl });
    if (inventoryRows.length === opts.only.length) return 0;
  }
  const startedAt = new Date();
  const wants = (id: string) => opts.only.length === 0 || opts.only.includes(id);
  const baseName = benchDatabaseName(opts.databaseUrl);
  const largeName = `${baseName}_large`;
  const needsLarge = wants('4');
  const mariadb = await serverVersion(opts.databaseUrl);
  const machine = machineInfo();
  say(
    `${opts.quick ? 'QUICK mode (proves the script runs; figures mean little)' : 'full run'}: ` +
      `${machine.cpus} CPUs, Node ${machine.node}, MariaDB ${mariadb}, ${opts.connections} connections, pool ${opts.poolMax}, ` +
      `${opts.durationSec}s × ${opts.rounds} round(s) per side`,
  );
  if (opts.dropIndexes.length)
    say(`EXPERIMENT: dropping ${opts.dropIndexes.map((d) => `${d.table}.${d.index}`).join(', ')} from the benchmark databases`);

  const dbs: Array<{ name: string; db: Db }> = [];
  let servers: Servers[] = [];
  try {
    await buildServerBundle(path.join(__dirname, 'server-process.ts'), SERVER_PROCESS_JS);
    say(`seeding ${baseName}: ${opts.smallGoods.toLocaleString('en')} goods rows`);
    const small = await freshDatabase(opts.databaseUrl, baseName, opts.dropIndexes);
    dbs.push({ name: baseName, db: small.db });
    const smallSeed = await seedDatabase(small.db, {
      benchUsers: opts.benchUsers,
      goodsPerUser: opts.goodsPerUser,
      totalGoods: opts.smallGoods,
      chunk: opts.insertChunk,
    });
    const hot: HotFixture | null = wants('5')
      ? await seedHot(small.db, opts.hot.start, Math.max(4, Math.floor(opts.connections / 2)))
      : null;

    let largeSeed: SeedResult | null = null;
    let largeUrl: string | null = null;
    if (needsLarge) {
      say(`seeding ${largeName}: ${opts.largeGoods.toLocaleString('en')} goods rows in chunks of ${opts.insertChunk}`);
      const large = await freshDatabase(opts.databaseUrl, largeName, opts.dropIndexes);
      dbs.push({ name: largeName, db: large.db });
      largeUrl = large.url;
      largeSeed = await seedDatabase(large.db, {
        benchUsers: opts.benchUsers,
        goodsPerUser: opts.goodsPerUser,
        totalGoods: opts.largeGoods,
        chunk: opts.insertChunk,
      });
      say(`  ${largeSeed.goodsRows.toLocaleString('en')} rows in ${largeSeed.seconds.toFixed(1)} s`);
    }

    // The real server and the baseline live in two processes, so that a profile of the first
    // holds nothing of the second and neither's garbage is collected on the other's time.
    const specs: ServerSpec[] = [{ name: 'trpc', kind: 'trpc', databaseUrl: small.url, logLevel: 'warn' }];
    if (wants('1i')) specs.push({ name: 'trpcInfo', kind: 'trpc', databaseUrl: small.url, logLevel: 'info' });
    if (largeUrl) specs.push({ name: 'trpcLarge', kind: 'trpc', databaseUrl: largeUrl, logLevel: 'warn' });
    servers.push(await startServers('app', { servers: specs, poolMax: opts.poolMax }, opts, opts.appNodeFlags));
    if (opts.appNodeFlags.length) say(`EXPERIMENT: the real server runs with node ${opts.appNodeFlags.join(' ')}`);
    servers.push(
      await startServers('bare', { servers: [{ name: 'bare', kind: 'bare', databaseUrl: small.url }], poolMax: opts.poolMax }, opts),
    );
    const ports: Record<string, number> = Object.assign({}, ...servers.map((x) => x.ports));
    const url = (name: string) => `http://127.0.0.1:${ports[name]}`;
    const cpuOf = (name: string) => servers.find((x) => name in x.ports)!.cpu;
    say(
      `servers: ${Object.entries(ports)
        .map(([n, p]) => `${n} :${p}`)
        .join(', ')}`,
    );
    const appLog = servers[0]!.logFile;

    await preflight(url('trpc'), url('bare'), smallSeed.users[0]!);
    say('preflight: the bare routes answer exactly what goods.scan / goods.stockIn answer');

    const users = smallSeed.users;
    const cmp = { rounds: opts.rounds, warmupSec: opts.warmupSec };
    const load = (label: string, server: string, next: LoadSpec['next']): LoadSpec => ({
      label,
      url: url(server),
      cpu: cpuOf(server),
      connections: opts.connections,
      duration: opts.durationSec,
      next,
    });
    const rows: RowResult[] = [];
    const done = (row: RowResult) => {
      rows.push(row);
      const ratio = row.ratio === null ? '' : ` ratio ${row.ratio.toFixed(2)}${row.ratioOf === 'p99' ? ' (p99)' : ''}`;
      say(`row ${row.id} done:${ratio}${row.errors ? `, ${row.errors} errors` : ''}`);
    };

    // Reads first, then writes: stock-ins add log rows and bump counters.
    if (wants('1')) {
      say('row 1: goods.scan vs bare route');
      const r = await compare(
        load('tRPC goods.scan', 'trpc', scanRequests(users, '/trpc')),
        load('bare scan', 'bare', scanRequests(users, '/bare')),
        cmp,
      );
      done(throughputRow('1', 'goods.scan over tRPC (LOG_LEVEL=warn) vs bare Fastify + mysql2', ['scan', 'bare'], r, THROUGHPUT_TARGET));
    }
    if (wants('1i')) {
      say('row 1i: goods.scan at LOG_LEVEL=info (production default) vs bare route');
      const before = countLines(appLog);
      const r = await compare(
        load('tRPC goods.scan (info)', 'trpcInfo', scanRequests(users, '/trpc')),
        load('bare scan', 'bare', scanRequests(users, '/bare')),
        cmp,
      );
      const lines = countLines(appLog) - before;
      const requests = r.rounds.reduce((n, x) => n + x.subject.completed, 0) + (r.warmup?.subject.completed ?? 0);
      const perRequest = requests > 0 ? lines / requests : 0;
      done(
        throughputRow('1i', 'goods.scan over tRPC at LOG_LEVEL=info vs bare', ['scan@info', 'bare'], r, THROUGHPUT_TARGET, [
          `≈${perRequest.toFixed(1)} log lines per request written to a file`,
        ]),
      );
    }
    if (wants('3')) {
      say(`row 3: a batch of ${BATCH_SIZE} goods.scan in one request vs ${BATCH_SIZE} separate requests`);
      const r = await compare(
        load(`tRPC batch of ${BATCH_SIZE} scans`, 'trpc', batchScanRequests(users, BATCH_SIZE)),
        load('tRPC single scans', 'trpc', scanRequests(users, '/trpc')),
        cmp,
      );
      const row = throughputRow(
        '3',
        `scans/s: ${BATCH_SIZE} goods.scan per batched request vs one per request`,
        [`batch×${BATCH_SIZE}`, 'scan'],
        r,
        null,
        [`subject req/s × ${BATCH_SIZE} = scans/s; latency is per HTTP request (${BATCH_SIZE} scans)`],
      );
      row.subjectCallsPerRequest = BATCH_SIZE;
      row.ratio = r.baseline.reqPerSec > 0 ? (r.subject.reqPerSec * BATCH_SIZE) / r.baseline.reqPerSec : 0;
      done(row);
    }
    if (wants('4') && largeSeed) {
      say(`row 4: goods.scan with ${largeSeed.goodsRows.toLocaleString('en')} vs ${smallSeed.goodsRows.toLocaleString('en')} goods rows`);
      const r = await compare(
        load('tRPC goods.scan (large table)', 'trpcLarge', scanRequests(largeSeed.users, '/trpc')),
        load('tRPC goods.scan (small table)', 'trpc', scanRequests(users, '/trpc')),
        { ...cmp, rounds: opts.quick ? 1 : Math.max(3, cmp.rounds), latencyConnections: SCALE_CONNECTIONS },
      );
      const p99Ratio = r.baseline.p99 > 0 ? r.subject.p99 / r.baseline.p99 : 0;
      const p50Ratio = r.baseline.p50 > 0 ? r.subject.p50 / r.baseline.p50 : 0;
      const fmtRows = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);
      done({
        id: '4',
        title: `goods.scan latency with ${largeSeed.goodsRows} vs ${smallSeed.goodsRows} goods rows (other users' rows included)`,
        subjectLabel: `scan@${fmtRows(largeSeed.goodsRows)}`,
        baselineLabel: `scan@${fmtRows(smallSeed.goodsRows)}`,
        subject: r.subject,
        baseline: r.baseline,
        ratio: p99Ratio,
        ratioOf: 'p99',
        errors: errorCount(r.subject) + errorCount(r.baseline),
        targets: [{ text: `p99 ≤ ${SCALE_P99_TARGET}×`, pass: p99Ratio <= SCALE_P99_TARGET }],
        notes: [
          `${SCALE_CONNECTIONS} connections, median p99 of ${r.rounds.length} alternating rounds; p50 ratio ${p50Ratio.toFixed(2)}, req/s ratio ${(r.subject.reqPerSec / Math.max(1, r.baseline.reqPerSec)).toFixed(2)}`,
          `large table seeded in ${largeSeed.seconds.toFixed(1)} s`,
        ],
      });
    }
    if (wants('2')) {
      say('row 2: goods.stockIn (no requestId) vs bare transaction');
      const r = await compare(
        load('tRPC goods.stockIn', 'trpc', stockInRequests(users, '/trpc', false)),
        load('bare stockIn', 'bare', stockInRequests(users, '/bare', false)),
        cmp,
      );
      done(
        throughputRow(
          '2',
          'goods.stockIn (transaction: use_count bump, update, log insert) vs bare mysql2 transaction',
          ['stockIn', 'bare'],
          r,
          THROUGHPUT_TARGET,
        ),
      );
    }
    if (wants('2r')) {
      say('row 2r: goods.stockIn with a requestId (as the mini-program client sends) vs bare');
      const r = await compare(
        load('tRPC goods.stockIn + requestId', 'trpc', stockInRequests(users, '/trpc', true)),
        load('bare stockIn + requestId', 'bare', stockInRequests(users, '/bare', true)),
        cmp,
      );
      done(
        throughputRow(
          '2r',
          'goods.stockIn with requestId (idempotency record in the same transaction) vs bare doing the same',
          ['stockIn+rid', 'bare'],
          r,
          THROUGHPUT_TARGET,
        ),
      );
    }

    let correctness: CorrectnessResult | null = null;
    if (hot) {
      say(`row 5: ${opts.hot.outs} stock-outs and ${opts.hot.ins} stock-ins on one goods holding ${opts.hot.start}, under row 2's load`);
      correctness = await runCorrectness({
        db: small.db,
        baseUrl: url('trpc'),
        hot,
        users,
        connections: opts.connections,
        retries: opts.hot.retries,
        outs: opts.hot.outs,
        ins: opts.hot.ins,
      });
      const c = correctness;
      const unexpected = Object.values(c.unexpected).reduce((a, b) => a + b, 0);
      done({
        id: '5',
        title: 'stock-out correctness under concurrent load',
        subjectLabel: 'stockOut (contended)',
        baselineLabel: 'ledger',
        subject: c.outs,
        ratio: null,
        ratioOf: 'throughput',
        errors: unexpected,
        targets: [
          { text: '0 lost updates', pass: c.lostUpdates.length === 0 },
          { text: '0 errors but 412', pass: unexpected === 0 },
        ],
        notes: [
          `${c.okOuts} out + ${c.preconditionFailed} PRECONDITION_FAILED, ${c.okIns} in; quantity ${c.start} → ${c.final} (expected ${c.expectedFinal}); ` +
            `logs ${c.outLogs} out / ${c.inLogs} in; useCount ${c.useCount}; ${c.retries.sent / 2} requestIds sent twice applied ${c.retries.applied}×; ` +
            `InnoDB deadlocks during the load: ${c.deadlocks ?? 'n/a'}`,
          ...c.lostUpdates.map((l) => `LOST UPDATE: ${l}`),
          ...Object.entries(c.unexpected).map(([k, v]) => `unexpected: ${k} × ${v}`),
        ],
      });
    }

    for (const x of servers) await x.stop();
    const problems = problemLines(appLog);
    // Kept when something went wrong: the full lines (stacks included) are the evidence.
    const keptLog = problems.count > 0 ? appLog : null;
    for (const x of servers) if (x.logFile !== keptLog) rmSync(x.logFile, { force: true });
    servers = [];

    // ---- report
    const table = renderTable(rows);
    process.stdout.write(`\n${table}\n\n`);
    for (const row of rows) for (const n of row.notes) process.stdout.write(`  ${row.id}: ${n}\n`);
    if (problems.count > 0) {
      process.stdout.write(`  server logged ${problems.count} warnings/errors (full log kept: ${keptLog}):\n`);
      for (const [msg, n] of Object.entries(problems.messages)) process.stdout.write(`    ${n} × ${msg}\n`);
    }

    const byId = (id: string) => rows.find((r) => r.id === id);
    const summary: Array<{ target: string; value: string; pass: boolean | null }> = [];
    const ratioTarget = (id: string, text: string) => {
      const r = byId(id);
      if (r && r.ratio !== null) summary.push({ target: text, value: r.ratio.toFixed(2), pass: r.targets.every((t) => t.pass) });
    };
    ratioTarget('1', `row 1 scan ≥ ${THROUGHPUT_TARGET}× bare req/s`);
    ratioTarget('1i', `row 1i scan at LOG_LEVEL=info ≥ ${THROUGHPUT_TARGET}× bare req/s`);
    ratioTarget('2', `row 2 stockIn ≥ ${THROUGHPUT_TARGET}× bare req/s`);
    ratioTarget('2r', `row 2r stockIn+requestId ≥ ${THROUGHPUT_TARGET}× bare req/s`);
    ratioTarget('4', `row 4 p99 large/small ≤ ${SCALE_P99_TARGET}`);
    const errorRows = rows.filter((r) => r.errors > 0);
    summary.push({
      target: 'zero errors',
      value: errorRows.length ? errorRows.map((r) => `row ${r.id}: ${r.errors}`).join(', ') : '0',
      pass: errorRows.length === 0,
    });
    if (correctness) {
      summary.push({
        target: 'zero lost updates (row 5)',
        value: String(correctness.lostUpdates.length),
        pass: correctness.lostUpdates.length === 0,
      });
    }
    process.stdout.write('\nTargets (reported, never enforced)\n');
    for (const s of summary) process.stdout.write(`  ${s.pass ? 'PASS' : 'MISS'}  ${s.target}: ${s.value}\n`);
    if (opts.quick) process.stdout.write('  (quick mode: tiny data and short runs, the figures above are not meaningful)\n');

    const finishedAt = new Date();
    const file = writeResults(RESULTS_DIR, `${startedAt.toISOString().replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`, {
      startedAt,
      finishedAt,
      mode: opts.quick ? 'quick' : 'full',
      machine: { ...machine, mariadb, loadavg: os.loadavg() },
      options: opts,
      seed: {
        small: { goodsRows: smallSeed.goodsRows, seconds: smallSeed.seconds },
        large: largeSeed ? { goodsRows: largeSeed.goodsRows, seconds: largeSeed.seconds } : null,
      },
      table,
      rows,
      correctness,
      serverLogProblems: { ...problems, keptLog },
      targets: summary,
    });
    say(`results written to ${path.relative(process.cwd(), file)} (${((finishedAt.getTime() - startedAt.getTime()) / 1000).toFixed(0)} s)`);
    if (opts.profile) say(`CPU profiles of the server process: ${path.relative(process.cwd(), path.join(RESULTS_DIR, 'profiles'))}/`);

    if (correctness && correctness.lostUpdates.length > 0) {
      say('LOST UPDATES: the stock counts do not add up (see row 5). This is a bug, not noise.');
      return 1;
    }
    return 0;
  } finally {
    for (const x of servers) await x.stop().catch(() => undefined);
    for (const { db } of dbs) await db.destroy().catch(() => undefined);
    if (!opts.keep) for (const { name } of dbs) await dropDatabase(opts.databaseUrl, name).catch(() => undefined);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('[bench] failed:', err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(2);
  },
);
