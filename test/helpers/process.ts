import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = path.resolve(__dirname, '../..');
// tsx as a loader inside the one node process, as `npm start` runs it. Not the tsx CLI: its parent
// process SIGKILLs the server when a busy event loop acknowledges SIGTERM later than 30 ms, which
// cut graceful shutdown short under load (exit 143, in-flight requests dropped).
const TSX_LOADER = pathToFileURL(createRequire(path.join(ROOT, 'package.json')).resolve('tsx')).href;

export interface ServerProcess {
  child: ChildProcess;
  /** Base URL once listening. */
  url: string;
  output(): string;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Runs `src/index.ts` as `npm start` does (node --import tsx), in `cwd`, with exactly `env` (plus PATH). */
export function runServerOnce(env: Record<string, string>, cwd = ROOT): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, path.join(ROOT, 'src/index.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const done = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('exit', (code) => resolve({ code, output })),
  );
  return { child, done };
}

/** Starts the real server on an ephemeral port and waits for Fastify's "listening" line. */
export async function startServerProcess(env: Record<string, string>, cwd = ROOT, timeoutMs = 30_000): Promise<ServerProcess> {
  const { child, done } = runServerOnce({ HOST: '127.0.0.1', PORT: '0', ...env }, cwd);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${output}`)), timeoutMs);
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
