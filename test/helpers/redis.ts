import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import { freePort } from './ports';

/*
 * A private redis-server for the tests that share rate limits through Redis: its own port, no
 * persistence, started as a child process so that a test can kill it (6379 is the machine's own).
 */

const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

export function redisServerAvailable(): boolean {
  return REDIS_SERVER !== undefined;
}

export interface PrivateRedis {
  port: number;
  url: string;
  running(): boolean;
  start(): Promise<void>;
  /** SIGKILL, resolving once the process is gone. */
  kill(): Promise<void>;
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const timer = setTimeout(() => finish(false), 500);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => finish(d.toString().startsWith('+PONG')));
  });
}

export async function startPrivateRedis(port?: number): Promise<PrivateRedis> {
  if (!REDIS_SERVER) throw new Error('redis-server is not installed');
  const bin = REDIS_SERVER;
  const chosen = port ?? (await freePort());
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();
  const reap = () => child?.kill('SIGKILL');
  process.once('exit', reap);
  const redis: PrivateRedis = {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    running: () => child !== null,
    async start() {
      if (child) throw new Error('redis-server is already running');
      const proc = spawn(bin, ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      child = proc;
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      void exited.then(() => {
        if (child === proc) child = null;
      });
      const deadline = Date.now() + 10_000;
      while (!(await answersPing(chosen))) {
        if (child !== proc) throw new Error('redis-server exited during start-up');
        if (Date.now() > deadline) throw new Error('redis-server did not answer within 10 s');
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill() {
      const proc = child;
      if (!proc) return;
      proc.kill('SIGKILL');
      await exited;
      child = null;
    },
  };
  await redis.start();
  return redis;
}
