import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
export { freePort } from '../../helpers/ports';

/*
 * Child processes of the cluster test (mariadbd, haproxy, redis-server), each writing to a log file
 * of its own. Every one started is remembered, so that a failing test still kills them all: the
 * suite's teardown calls killAll(), and a process 'exit' handler does it once more as a last resort.
 */

const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL');
});

export interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  running(): boolean;
  log(): string;
  /** SIGKILL (the power cut), resolving once the process is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function startProc(cmd: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Proc {
  const fd = openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
  closeSync(fd);
  started.add(child);
  let alive = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      alive = false;
      started.delete(child);
      resolve(code);
    });
    child.once('error', () => {
      alive = false;
      started.delete(child);
      resolve(null);
    });
  });
  return {
    child,
    exited,
    running: () => alive,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async kill(signal = 'SIGKILL') {
      if (!alive) return;
      child.kill(signal);
      await exited;
    },
  };
}

/** Kills every process still running that this module started. */
export async function killAll(): Promise<void> {
  const waits = [...started].map(
    (child) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(waits);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `check` until it answers true, or fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
