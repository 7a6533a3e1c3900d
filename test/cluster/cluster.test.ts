import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lookupSession } from '../../src/auth/sessions';
import { loadConfig } from '../../src/config';
import { rereadCausally } from '../../src/db/causal';
import { createDb, type Db } from '../../src/db/knex';
import { buildServer } from '../../src/server';
import { startServerProcess, type ServerProcess } from '../helpers/process';
import { redisServerAvailable, startPrivateRedis, type PrivateRedis } from '../helpers/redis';
import { call, trpcData, type WireResponse } from '../reliability/support/http';
import { NODE_PORTS, startGaleraCluster, type GaleraCluster } from './support/galera';
import { appBalancerConfig, galeraBalancerConfig, HAPROXY, startBalancer, writeGaleraCheck, type Balancer } from './support/haproxy';
import { freePort, killAll, sleep, waitFor } from './support/procs';
import { sample } from '../helpers/metrics';

/*
 * scancode on several machines, all on loopback: a 3-node MariaDB Galera cluster behind a TCP
 * haproxy (one writer), two server processes behind an HTTP haproxy, a redis-server for the shared
 * rate limits, and, for the tests that need a second writer, a third app in this process talking
 * to node 3 directly. docs/DEPLOY.md explains the configuration.
 */

const DATABASE = 'scancode';
const RATE_LIMIT_MAX = 40;

interface Goods {
  id: number;
  quantity: number;
}

let dir: string;
let galera: GaleraCluster;
let redis: PrivateRedis;
let dbBalancer: Balancer;
let appBalancer: Balancer;
let apps: ServerProcess[] = [];
/** A third app, in this process, on node 3 directly: a second writer for the cluster. */
let app3: FastifyInstance;
let app3Url: string;
let lbUrl: string;
/** Direct connections to node 2 (which stays up) for checking what the cluster holds. */
let check: Db;

const nodeUrl = (i: number) => `mysql://root@127.0.0.1:${NODE_PORTS[i]!.mysql}/${DATABASE}`;

let ipSeq = 0;
/** Every call comes from an address of its own unless told otherwise, so no limit gets in the way. */
const freshIp = () => {
  ipSeq++;
  return `10.${(ipSeq >> 16) & 255}.${(ipSeq >> 8) & 255}.${ipSeq & 255}`;
};

function rpc(
  base: string,
  type: 'query' | 'mutation',
  procedure: string,
  input: unknown,
  token?: string,
  ip = freshIp(),
): Promise<WireResponse> {
  return call(base, type, procedure, input, { 'x-forwarded-for': ip, ...(token ? { 'x-session-token': token } : {}) });
}

/** Sends until the answer is not a 5xx or a network failure (the same input: the same requestId). */
async function untilAnswered(send: () => Promise<WireResponse>, timeoutMs = 60_000): Promise<WireResponse> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let res: WireResponse | null = null;
    try {
      res = await send();
    } catch {
      res = null;
    }
    if (res && res.status < 500) return res;
    if (Date.now() > deadline)
      throw new Error(`no answer within ${timeoutMs} ms: ${res ? `${res.status} ${res.text.slice(0, 300)}` : 'network error'}`);
    await sleep(50);
  }
}

async function login(base: string, code: string): Promise<string> {
  const res = await untilAnswered(() => rpc(base, 'mutation', 'auth.login', { code }));
  expect(res.status).toBe(200);
  return trpcData<{ token: string }>(res).token;
}

async function homeDirectory(base: string, token: string): Promise<number> {
  const res = await untilAnswered(() => rpc(base, 'query', 'directory.list', undefined, token));
  return trpcData<Array<{ id: number }>>(res)[0]!.id;
}

async function goodsRow(code: string, directoryId: number): Promise<{ id: number; quantity: number }> {
  return (await check('goods').where({ code, directory_id: directoryId }).whereNull('deleted_at').first()) as {
    id: number;
    quantity: number;
  };
}

async function historyOf(goodsId: number, type: string): Promise<Array<{ delta: number; quantity_after: number }>> {
  return (await check('logs').where({ goods_id: goodsId, type }).select('delta', 'quantity_after')) as Array<{
    delta: number;
    quantity_after: number;
  }>;
}

describe('scancode on a 3-node Galera cluster behind haproxy, two app nodes, Redis', () => {
  beforeAll(async () => {
    // Asked for by name (npm run test:cluster): a missing tool is a failure, not a skip.
    if (!HAPROXY) throw new Error('haproxy is not installed: apt-get install -y haproxy');
    if (!redisServerAvailable()) throw new Error('redis-server is not installed: apt-get install -y redis-server');
    dir = mkdtempSync(path.join(os.tmpdir(), 'scancode-cluster-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    const started = Date.now();
    galera = await startGaleraCluster(dir);
    console.log(`[cluster] Galera synced in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const admin = await mysql.createConnection({ host: '127.0.0.1', port: NODE_PORTS[0]!.mysql, user: 'root' });
    await admin.query(`CREATE DATABASE ${DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
    await admin.end();

    redis = await startPrivateRedis();
    const dbPort = await freePort();
    const checkScript = writeGaleraCheck(dir);
    dbBalancer = await startBalancer(dir, 'galera-lb', dbPort, (statsSocket) =>
      galeraBalancerConfig({ port: dbPort, nodes: NODE_PORTS.map((p) => p.mysql), checkScript, statsSocket }),
    );
    await waitFor('the Galera balancer to see node1 up', async () => (await dbBalancer.status()).node1 === 'UP', 20_000);

    // Both app nodes start at once on the empty database: one migrates, the other waits.
    const env = {
      DATABASE_URL: `mysql://root@127.0.0.1:${dbPort}/${DATABASE}`,
      REDIS_URL: redis.url,
      TRUST_PROXY: '127.0.0.1',
      RATE_LIMIT_MAX: String(RATE_LIMIT_MAX),
      DB_POOL_MAX: '5',
      // info: the tests read "Server listening" and the warnings from the output.
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
    };
    const starting = await Promise.allSettled([startServerProcess(env, undefined, 90_000), startServerProcess(env, undefined, 90_000)]);
    apps = starting.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    for (const s of starting) if (s.status === 'rejected') throw s.reason;
    const appPorts = apps.map((a) => Number(new URL(a.url).port));
    const lbPort = await freePort();
    appBalancer = await startBalancer(dir, 'app-lb', lbPort, (statsSocket) =>
      appBalancerConfig({ port: lbPort, apps: appPorts, statsSocket }),
    );
    lbUrl = `http://127.0.0.1:${lbPort}`;
    await waitFor(
      'the app balancer to see both app nodes up',
      async () => {
        const s = await appBalancer.status();
        return s.app1 === 'UP' && s.app2 === 'UP';
      },
      20_000,
    );

    app3 = await buildServer(
      loadConfig({
        NODE_ENV: 'test',
        DATABASE_URL: nodeUrl(2),
        LOG_LEVEL: 'silent',
        RATE_LIMIT_MAX: '1000000',
        METRICS_PORT: '0',
        DB_POOL_MAX: '5',
      }),
    );
    await app3.listen({ port: 0, host: '127.0.0.1' });
    app3Url = `http://127.0.0.1:${(app3.server.address() as { port: number }).port}`;
    check = createDb({ url: nodeUrl(1), poolMax: 3 });
    console.log(`[cluster] everything up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  afterAll(async () => {
    await app3?.close().catch(() => undefined);
    await check?.destroy().catch(() => undefined);
    for (const app of apps) app.child.kill('SIGKILL');
    await galera?.stop().catch(() => undefined);
    await redis?.kill().catch(() => undefined);
    await killAll();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('migrated once although both app nodes started together', async () => {
    const names = (await check('knex_migrations').select('name')).map((r: { name: string }) => r.name);
    expect(new Set(names).size).toBe(names.length);
    expect(apps.filter((a) => a.output().includes('"msg":"database migrated"'))).toHaveLength(1);
  });

  it('a session made through one app node works on the other at once, and on another database node', async () => {
    const [a, b] = apps.map((x) => x.url) as [string, string];
    const node3 = createDb({ url: nodeUrl(2), poolMax: 2 });
    try {
      for (let i = 0; i < 10; i++) {
        const token = await login(i % 2 ? b : a, `session-${i}`);
        const me = await rpc(i % 2 ? a : b, 'query', 'auth.me', undefined, token);
        expect(me.status).toBe(200);
        // Read right away on node 3, which the balancer does not use: the causal re-read waits
        // for it to apply the session written through node 1.
        expect((await lookupSession(node3, token)).status).toBe('ok');
        // And the causal re-read itself, on a connection that knows it reaches a wsrep server.
        const rows = await rereadCausally(node3, (q) => q('users').select('id').limit(1));
        expect(rows).not.toBeNull();
        const viaApp3 = await rpc(app3Url, 'query', 'auth.me', undefined, token);
        expect(viaApp3.status).toBe(200);
      }
    } finally {
      await node3.destroy();
    }
  });

  it('300 stock-outs of one goods across the app nodes (and a second writer on node 3) never go negative or lose an update', async () => {
    const token = await login(lbUrl, 'hot');
    const directoryId = await homeDirectory(lbUrl, token);
    const START = 250;
    const stocked = await untilAnswered(() =>
      rpc(lbUrl, 'mutation', 'goods.stockIn', { directoryId, code: 'HOT', quantity: START, requestId: 'hot-start' }, token),
    );
    expect(stocked.status).toBe(200);
    const targets = [apps[0]!.url, apps[1]!.url, app3Url];
    const metricsBefore = await fetch(`${app3.metrics!.url()}/metrics`).then((r) => r.text());

    let next = 0;
    const outcomes: Record<string, number> = {};
    const worker = async () => {
      for (let i = next++; i < 300; i = next++) {
        // 2 of 5 through each app node behind the balancer's database node, 1 of 5 through node 3.
        const base = targets[i % 5 < 2 ? 0 : i % 5 < 4 ? 1 : 2]!;
        const res = await untilAnswered(() =>
          rpc(base, 'mutation', 'goods.stockOut', { directoryId, code: 'HOT', quantity: 1, requestId: `hot-out-${i}` }, token),
        );
        const key = res.status === 200 ? 'ok' : String(res.status);
        outcomes[key] = (outcomes[key] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: 12 }, worker));
    const retries = sample(await fetch(`${app3.metrics!.url()}/metrics`).then((r) => r.text()), 'scancode_db_transaction_retries_total');
    console.log(
      `[cluster] stock-outs: ${JSON.stringify(outcomes)}; transactions redone on node 3's app: ${retries - sample(metricsBefore, 'scancode_db_transaction_retries_total')}`,
    );

    expect(outcomes.ok).toBe(START);
    expect(outcomes['412']).toBe(300 - START);
    const goods = await goodsRow('HOT', directoryId);
    expect(goods.quantity).toBe(0);
    const outs = await historyOf(goods.id, 'stock.out');
    expect(outs).toHaveLength(START);
    expect(outs.every((l) => l.quantity_after >= 0)).toBe(true);
    // Each stock-out left a distinct quantity behind: no two saw the same row version.
    expect(new Set(outs.map((l) => l.quantity_after)).size).toBe(START);
  });

  it('the same requestId sent to both app nodes (and node 3) at once applies once', async () => {
    const token = await login(lbUrl, 'twice');
    const directoryId = await homeDirectory(lbUrl, token);
    for (let i = 0; i < 10; i++) {
      const input = { directoryId, code: 'TWICE', quantity: 1, requestId: `twice-${i}` };
      const answers = await Promise.all(
        [apps[0]!.url, apps[1]!.url, app3Url].map((base) => untilAnswered(() => rpc(base, 'mutation', 'goods.stockIn', input, token))),
      );
      const quantities = answers.map((r) => trpcData<{ goods: Goods }>(r).goods.quantity);
      expect(new Set(quantities)).toEqual(new Set([i + 1]));
    }
    const goods = await goodsRow('TWICE', directoryId);
    expect(goods.quantity).toBe(10);
    expect(await historyOf(goods.id, 'stock.in')).toHaveLength(10);
  });

  it('keyset paging stays exact while ids interleave across nodes', async () => {
    const token = await login(lbUrl, 'pager');
    const directoryId = await homeDirectory(lbUrl, token);
    const userId = trpcData<{ id: number }>(await untilAnswered(() => rpc(lbUrl, 'query', 'auth.me', undefined, token))).id;
    // Rows written through node 1 (the balancer) and node 3 (app3) before paging starts.
    for (let i = 0; i < 30; i++) {
      await untilAnswered(() => rpc(i % 2 ? app3Url : lbUrl, 'mutation', 'goods.stockIn', { directoryId, code: `PAGE-${i % 4}` }, token));
    }
    const existing = (await check('logs').where({ user_id: userId }).select('id')).map((r: { id: number }) => Number(r.id));

    let writing = true;
    const writer = async (base: string, tag: string) => {
      for (let i = 0; writing; i++) {
        await untilAnswered(() => rpc(base, 'mutation', 'goods.stockIn', { directoryId, code: `PAGE-${tag}-${i % 3}` }, token));
      }
    };
    const writers = [writer(lbUrl, 'lb'), writer(app3Url, 'n3')];
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const res = await untilAnswered(() => rpc(lbUrl, 'query', 'log.list', { limit: 7, cursor }, token));
      const page = trpcData<{ items: Array<{ id: number }>; nextCursor: string | null }>(res);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor;
      await sleep(30);
    } while (cursor);
    writing = false;
    await Promise.all(writers);

    const all = (await check('logs').where({ user_id: userId }).select('id')).map((r: { id: number }) => Number(r.id));
    // Ids interleave: rows from both writing nodes carry ids of different residues.
    expect(new Set(all.map((id) => id % 3)).size).toBeGreaterThan(1);
    // The promise: no row twice, newest first, and every row that existed before the first page.
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort((x, y) => y - x)).toEqual(seen);
    for (const id of existing) expect(seen).toContain(id);
  });

  it('kill -9 of the database node in use during load: writes resume within 10 s, nothing acknowledged is lost or doubled, the node rejoins', async () => {
    const token = await login(lbUrl, 'failover');
    const directoryId = await homeDirectory(lbUrl, token);
    const inUse = await mysql.createConnection({ host: '127.0.0.1', port: dbBalancer.port, user: 'root' });
    const [[row]] = (await inUse.query('SELECT @@wsrep_node_name AS name')) as unknown as [[{ name: string }]];
    await inUse.end();
    expect(row.name).toBe('node1');

    const acked: Array<{ sentAt: number; doneAt: number }> = [];
    let seq = 0;
    let stop = false;
    const worker = async (w: number) => {
      while (!stop) {
        const requestId = `fo-${w}-${seq++}`;
        const sentAt = Date.now();
        const res = await untilAnswered(
          () => rpc(apps[w % 2]!.url, 'mutation', 'goods.stockIn', { directoryId, code: 'FAILOVER', quantity: 1, requestId }, token),
          60_000,
        );
        expect(res.status).toBe(200);
        acked.push({ sentAt, doneAt: Date.now() });
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await waitFor('40 acknowledged stock-ins', () => acked.length >= 40, 30_000, 20);
    const killedAt = Date.now();
    await galera.nodes[0]!.kill();
    await waitFor('writes after the kill', () => acked.some((a) => a.sentAt >= killedAt), 30_000, 20);
    const resumedMs = Math.min(...acked.filter((a) => a.sentAt >= killedAt).map((a) => a.doneAt)) - killedAt;
    const afterResume = acked.length;
    await waitFor('40 more acknowledged stock-ins', () => acked.length >= afterResume + 40, 30_000, 20);
    stop = true;
    await Promise.all(workers);
    console.log(`[cluster] node1 killed: writes resumed after ${resumedMs} ms; ${acked.length} stock-ins acknowledged`);
    expect(resumedMs).toBeLessThan(10_000);

    const goods = await goodsRow('FAILOVER', directoryId);
    expect(goods.quantity).toBe(acked.length);
    expect(await historyOf(goods.id, 'stock.in')).toHaveLength(acked.length);

    const restarted = Date.now();
    await galera.nodes[0]!.start({ timeoutMs: 150_000 });
    console.log(`[cluster] node1 rejoined (Synced) in ${((Date.now() - restarted) / 1000).toFixed(1)} s`);
    expect(await galera.nodes[0]!.state()).toBe('Synced');
    const node2 = await mysql.createConnection({ host: '127.0.0.1', port: NODE_PORTS[1]!.mysql, user: 'root' });
    const [[size]] = (await node2.query("SHOW STATUS LIKE 'wsrep_cluster_size'")) as unknown as [[{ Value: string }]];
    await node2.end();
    expect(size.Value).toBe('3');
    // The rejoined node holds what was written while it was gone.
    const node1 = createDb({ url: nodeUrl(0), poolMax: 1 });
    try {
      expect((await node1('goods').where({ id: goods.id }).first()).quantity).toBe(acked.length);
    } finally {
      await node1.destroy();
    }
  });

  it('kill -9 of one app node: the balancer drains it, the other serves with the same rate-limit counters', async () => {
    const ip = '172.16.0.1';
    const me = () => rpc(lbUrl, 'query', 'auth.me', undefined, undefined, ip);
    // Half the budget, spread over both nodes by the balancer.
    for (let i = 0; i < RATE_LIMIT_MAX / 2; i++) expect((await me()).status).toBe(401);
    apps[0]!.child.kill('SIGKILL');
    await waitFor(
      'the balancer to mark app1 down',
      async () => (await appBalancer.status()).app1?.startsWith('DOWN') ?? false,
      10_000,
      100,
    );
    // The other node goes on from the shared count: exactly the other half, then 429.
    let allowed = 0;
    for (;;) {
      const res = await me();
      if (res.status === 429) break;
      expect(res.status).toBe(401);
      allowed++;
      expect(allowed).toBeLessThanOrEqual(RATE_LIMIT_MAX);
    }
    expect(allowed).toBe(RATE_LIMIT_MAX / 2);
  });

  it('Redis stopped: requests are still answered in milliseconds', async () => {
    const token = await login(lbUrl, 'no-redis');
    await redis.kill();
    for (let i = 0; i < 20; i++) {
      const res = await rpc(lbUrl, 'query', 'auth.me', undefined, token);
      expect(res.status).toBe(200);
      expect(res.ms).toBeLessThan(500);
    }
    expect(apps[1]!.output()).toContain('rate limit store unreachable');
  });
});
