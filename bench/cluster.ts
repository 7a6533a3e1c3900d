import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { buildServerBundle } from '../scripts/build-server';
import { NODE_PORTS, startGaleraCluster, startStandaloneMariaDb } from '../test/cluster/support/galera';
import { appBalancerConfig, galeraBalancerConfig, startBalancer, writeGaleraCheck, type Balancer } from '../test/cluster/support/haproxy';
import { freePort, killAll, sleep, waitFor } from '../test/cluster/support/procs';
import { runServerOnce } from '../test/helpers/process';
import { measure, startLoad, type LoadRequest, type Measurement } from './load';

/*
 * `npm run bench -- --cluster [--quick] [--duration S] [--connections N]`: goods.stockIn (with a
 * requestId, as the mini-program sends it) through the HTTP balancer and two app nodes, first on
 * one MariaDB, then on the 3-node Galera cluster behind its TCP balancer (test/cluster's setup,
 * docs/DEPLOY.md). Reports the cluster's req/s as a ratio of the single server's, then the latency
 * while the Galera node in use is killed (kill -9) under the same load. Everything runs on this
 * machine, so the cluster's three servers share its cores with the apps and the load generator:
 * the ratio is the cost of synchronous replication plus that sharing, not a production figure.
 */

const DATABASE = 'scancode_bench';
/** Every app process started, so that a failing run still kills them. */
const appChildren = new Set<ChildProcess>();

function killApps(): void {
  for (const child of appChildren) child.kill('SIGKILL');
  appChildren.clear();
}
const APP_NODES = 2;

interface ClusterBenchOptions {
  quick: boolean;
  durationSec: number;
  connections: number;
  killRunSec: number;
  killAtSec: number;
}

function parse(argv: string[]): ClusterBenchOptions {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    const v = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, not "${v}"`);
    return n;
  };
  const quick = argv.includes('--quick');
  return {
    quick,
    durationSec: value('--duration') ?? (quick ? 3 : 10),
    connections: Math.round(value('--connections') ?? 16),
    killRunSec: quick ? 10 : 20,
    killAtSec: quick ? 3 : 6,
  };
}

function say(msg: string): void {
  process.stdout.write(`[bench:cluster] ${msg}\n`);
}

interface Deployment {
  lbUrl: string;
  balancers: Balancer[];
  stopApps(): Promise<void>;
}

/** Two app processes (the built server) on `databaseUrl`, behind an HTTP haproxy. */
async function startApps(dir: string, databaseUrl: string): Promise<Deployment> {
  const ports = await Promise.all(Array.from({ length: APP_NODES }, () => freePort()));
  const children = ports.map((port) =>
    runServerOnce({
      HOST: '127.0.0.1',
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '10000000',
      DB_POOL_MAX: '10',
      TRUST_PROXY: '127.0.0.1',
    }),
  );
  for (const c of children) appChildren.add(c.child);
  for (const port of ports) {
    await waitFor(
      `the app on :${port}`,
      async () => (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => null))?.status === 200,
      60_000,
      200,
    );
  }
  const lbPort = await freePort();
  const lb = await startBalancer(dir, 'app-lb', lbPort, (statsSocket) => appBalancerConfig({ port: lbPort, apps: ports, statsSocket }));
  await waitFor('the app balancer', async () => Object.values(await lb.status()).every((s) => s === 'UP'), 20_000);
  return {
    lbUrl: `http://127.0.0.1:${lbPort}`,
    balancers: [lb],
    async stopApps() {
      for (const c of children) c.child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.done));
    },
  };
}

interface User {
  token: string;
  directoryId: number;
}

async function rpc(base: string, method: 'GET' | 'POST', procedure: string, input: unknown, token?: string): Promise<unknown> {
  const headers: Record<string, string> = token ? { 'x-session-token': token } : {};
  const res =
    method === 'GET'
      ? await fetch(`${base}/trpc/${procedure}`, { headers })
      : await fetch(`${base}/trpc/${procedure}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ json: input }),
        });
  if (res.status !== 200) throw new Error(`${procedure} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return ((await res.json()) as { result: { data: { json: unknown } } }).result.data.json;
}

/** Users made through the development login, each with its default warehouse. */
async function makeUsers(base: string, n: number, tag: string): Promise<User[]> {
  const users: User[] = [];
  for (let i = 0; i < n; i++) {
    const { token } = (await rpc(base, 'POST', 'auth.login', { code: `${tag}-${i}` })) as { token: string };
    const [home] = (await rpc(base, 'GET', 'directory.list', undefined, token)) as Array<{ id: number }>;
    users.push({ token, directoryId: home!.id });
  }
  return users;
}

function stockIns(users: User[], tag: string): () => LoadRequest {
  let seq = 0;
  return () => {
    const user = users[seq % users.length]!;
    seq++;
    return {
      method: 'POST',
      path: '/trpc/goods.stockIn',
      headers: { 'content-type': 'application/json', 'x-session-token': user.token },
      body: JSON.stringify({ json: { directoryId: user.directoryId, code: `B${seq % 50}`, quantity: 1, requestId: `${tag}-${seq}` } }),
    };
  };
}

async function createDatabase(port: number): Promise<void> {
  const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
  await conn.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  await conn.end();
}

async function loadRun(label: string, url: string, users: User[], opts: ClusterBenchOptions): Promise<Measurement> {
  // A short warm-up (JIT, pools, buffer pool), then the measured run.
  await measure({ label: `${label} warm-up`, url, connections: opts.connections, duration: 2, next: stockIns(users, `${label}-warm`) });
  return measure({ label, url, connections: opts.connections, duration: opts.durationSec, next: stockIns(users, label) });
}

function line(m: Measurement): string {
  const non2xx = Object.entries(m.statuses)
    .filter(([s]) => !s.startsWith('2'))
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
  return `${m.label.padEnd(28)} ${m.reqPerSec.toFixed(0).padStart(6)} req/s  p50 ${m.p50.toFixed(1).padStart(6)} ms  p99 ${m.p99.toFixed(1).padStart(7)} ms  max ${m.max.toFixed(0).padStart(6)} ms  ${non2xx || 'all 2xx'}${m.errors ? `  socket errors ${m.errors}` : ''}`;
}

export async function runClusterBench(argv: string[]): Promise<number> {
  const opts = parse(argv);
  const startedAt = new Date();
  say(`${opts.quick ? 'QUICK mode: ' : ''}${os.cpus().length} CPUs, ${opts.connections} connections, ${opts.durationSec} s per run`);
  await buildServerBundle();
  const results: Record<string, Measurement> = {};
  try {
    // ---- one MariaDB (the cluster node's settings without replication)
    {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'scancode-bench-single-'));
      try {
        const single = await startStandaloneMariaDb(dir);
        await createDatabase(single.port);
        const apps = await startApps(dir, `mysql://root@127.0.0.1:${single.port}/${DATABASE}`);
        const users = await makeUsers(apps.lbUrl, 20, 'single');
        results.single = await loadRun('single MariaDB', apps.lbUrl, users, opts);
        say(line(results.single));
        await apps.stopApps();
        await single.stop();
      } finally {
        killApps();
        await killAll();
        rmSync(dir, { recursive: true, force: true });
      }
    }

    // ---- the 3-node Galera cluster behind its TCP balancer
    const dir = mkdtempSync(path.join(os.tmpdir(), 'scancode-bench-cluster-'));
    try {
      say('starting the 3-node Galera cluster (about a minute)');
      const galera = await startGaleraCluster(dir);
      await createDatabase(NODE_PORTS[0]!.mysql);
      const dbPort = await freePort();
      const checkScript = writeGaleraCheck(dir);
      const dbLb = await startBalancer(dir, 'galera-lb', dbPort, (statsSocket) =>
        galeraBalancerConfig({ port: dbPort, nodes: NODE_PORTS.map((p) => p.mysql), checkScript, statsSocket }),
      );
      await waitFor('the Galera balancer', async () => (await dbLb.status()).node1 === 'UP', 20_000);
      const apps = await startApps(dir, `mysql://root@127.0.0.1:${dbPort}/${DATABASE}`);
      const users = await makeUsers(apps.lbUrl, 20, 'cluster');
      results.cluster = await loadRun('3-node Galera', apps.lbUrl, users, opts);
      say(line(results.cluster));

      say(`the same load for ${opts.killRunSec} s, kill -9 of the Galera node in use at ${opts.killAtSec} s`);
      const running = startLoad({
        label: 'Galera, node 1 killed',
        url: apps.lbUrl,
        connections: opts.connections,
        duration: opts.killRunSec,
        next: stockIns(users, 'kill'),
      });
      await sleep(opts.killAtSec * 1000);
      await galera.nodes[0]!.kill();
      results.kill = await running.result;
      say(line(results.kill));
      await apps.stopApps();
      await galera.stop();
    } finally {
      killApps();
      await killAll();
      rmSync(dir, { recursive: true, force: true });
    }

    const ratio = results.cluster!.reqPerSec / results.single!.reqPerSec;
    process.stdout.write(
      `\n${line(results.single!)}\n${line(results.cluster!)}\n${line(results.kill!)}\n\n` +
        `  cluster / single stockIn req/s: ${ratio.toFixed(2)}\n` +
        `  p99 during the node kill: ${results.kill!.p99.toFixed(0)} ms (max ${results.kill!.max.toFixed(0)} ms); ` +
        `answers other than 2xx: ${results.kill!.non2xx} (a client retries those with its requestId)\n`,
    );
    const resultsDir = path.resolve(__dirname, 'results');
    mkdirSync(resultsDir, { recursive: true });
    const file = path.join(resultsDir, `cluster-${startedAt.toISOString().replace(/[:.]/g, '-')}${opts.quick ? '-quick' : ''}.json`);
    writeFileSync(file, JSON.stringify({ startedAt, options: opts, cpus: os.cpus().length, ratio, results }, null, 2));
    say(`results written to ${path.relative(process.cwd(), file)}`);
    return 0;
  } finally {
    killApps();
    await killAll();
  }
}
