import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

/**
 * The node arguments of package.json's `start` script (the built server; test/global-setup.ts
 * builds it once per run), with its file made absolute. Node itself is the process, not npm, so
 * the signals the tests send reach the server.
 */
function startArgs(): string[] {
  const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const [node, ...args] = start.split(/\s+/);
  if (node !== 'node') throw new Error(`package.json start script should run node directly: ${start}`);
  return args.map((a) => (a.startsWith('-') ? a : path.join(ROOT, a)));
}
const START_ARGS = startArgs();

export interface ServerProcess {
  child: ChildProcess;
  /** Base URL once listening. */
  url: string;
  output(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs the built server as `npm start` does, in `cwd`, with exactly `env` (plus PATH). */
export function runServerOnce(
  env: Record<string, string>,
  cwd = ROOT,
): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, START_ARGS, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) => child.on('exit', (code) => resolve({ code, output })));
  return { child, done };
}

/** Starts the real server on an ephemeral port and waits for Fastify's "listening" line. */
export async function startServerProcess(env: Record<string, string>, cwd = ROOT, timeoutMs = 30_000): Promise<ServerProcess> {
  const { child, done } = runServerOnce({ HOST: '127.0.0.1', PORT: '0', ...env }, cwd);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // A server that did not start must not outlive the test that waited for it.
      child.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const check = () => {
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', check);
    void done.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    child,
    url,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      child.kill(signal);
      return (await done).code;
    },
  };
}
