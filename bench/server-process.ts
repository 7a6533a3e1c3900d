import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../src/config';
import { buildServer } from '../src/server';
import { buildBareServer } from './bare';

/*
 * The servers under test, in a process of their own so that autocannon (in the parent) never
 * shares their event loop. Started by run.ts with fork(); reports its ports over IPC and closes
 * everything on "stop". Log lines (LOG_LEVEL info server) go to this process's stdout, which the
 * parent points at a file, as a production deployment would write them somewhere.
 */

export interface ServerSpec {
  name: string;
  kind: 'trpc' | 'bare';
  databaseUrl: string;
  logLevel?: 'info' | 'warn' | 'silent';
}

export interface ServerProcessInit {
  servers: ServerSpec[];
  poolMax: number;
}

export type ChildMessage =
  | { type: 'ready'; ports: Record<string, number> }
  | { type: 'failed'; error: string }
  /** CPU time this process has used so far (user + system), for CPU per request. */
  | { type: 'cpu'; id: number; micros: number };

function benchEnv(spec: ServerSpec, poolMax: number): Record<string, string> {
  return {
    // Production settings: no stacks in errors, no development login.
    NODE_ENV: 'production',
    WECHAT_APPID: 'wxbench0000000000',
    WECHAT_SECRET: 'bench-secret-unused',
    // Never contacted: the benchmark does not log in, it seeds sessions directly.
    WECHAT_API_BASE: 'http://127.0.0.1:9',
    DATABASE_URL: spec.databaseUrl,
    DB_POOL_MAX: String(poolMax),
    LOG_LEVEL: spec.logLevel ?? 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    // Every request comes from 127.0.0.1: the per-address limit would measure its own 429s. The
    // limiter still runs on every request at this setting, so its cost stays in the figures.
    RATE_LIMIT_MAX: '10000000',
  };
}

async function start(init: ServerProcessInit): Promise<{ apps: FastifyInstance[]; ports: Record<string, number> }> {
  const apps: FastifyInstance[] = [];
  const ports: Record<string, number> = {};
  for (const spec of init.servers) {
    const app =
      spec.kind === 'trpc'
        ? await buildServer(loadConfig(benchEnv(spec, init.poolMax)))
        : await buildBareServer(spec.databaseUrl, init.poolMax);
    await app.listen({ host: '127.0.0.1', port: 0 });
    apps.push(app);
    ports[spec.name] = (app.server.address() as AddressInfo).port;
  }
  return { apps, ports };
}

function main(): void {
  const init = JSON.parse(process.env.BENCH_SERVERS ?? 'null') as ServerProcessInit | null;
  if (!init || !process.send) {
    console.error('bench/server-process.ts is started by bench/run.ts (fork with BENCH_SERVERS)');
    process.exit(2);
  }
  const send = (m: ChildMessage) => process.send?.(m);
  start(init).then(
    ({ apps, ports }) => {
      process.on('message', (msg: { type?: string; id?: number }) => {
        if (msg.type === 'cpu') {
          const u = process.cpuUsage();
          send({ type: 'cpu', id: msg.id ?? 0, micros: u.user + u.system });
        } else if (msg.type === 'stop') {
          void Promise.allSettled(apps.map((a) => a.close())).then(() => process.exit(0));
        }
      });
      // An orphan must not outlive the benchmark.
      process.on('disconnect', () => process.exit(0));
      send({ type: 'ready', ports });
    },
    (err: unknown) => {
      send({ type: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      process.exit(1);
    },
  );
}

main();
