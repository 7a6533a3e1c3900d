import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { freePort } from './ports';

/*
 * A private MariaDB server for tests that must kill the database (outage tests): its own datadir
 * and port, started as a child process, so SIGKILL and restart touch nothing else.
 */

const MARIADBD = ['/usr/sbin/mariadbd', '/usr/sbin/mysqld', '/usr/bin/mariadbd'].find((p) => existsSync(p));
const INSTALL_DB = ['/usr/bin/mariadb-install-db', '/usr/bin/mysql_install_db'].find((p) => existsSync(p));

export function privateMariaDbAvailable(): boolean {
  return MARIADBD !== undefined && INSTALL_DB !== undefined;
}

export interface PrivateMariaDb {
  port: number;
  datadir: string;
  /** mysql://root@127.0.0.1:<port>/<database> */
  url(database: string): string;
  running(): boolean;
  /** Starts mariadbd on the same datadir and port and waits until it answers. */
  start(): Promise<void>;
  /** SIGKILL: the power-cut case. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Kills it if running and deletes the datadir. */
  destroy(): Promise<void>;
  /** The server's own error log, for failure messages. */
  log(): string;
}

function run(cmd: string, args: string[], logFile: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fd = openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd] });
    child.once('error', reject);
    child.once('exit', (code) => {
      closeSync(fd);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} exited with ${code}:\n${readFileSync(logFile, 'utf8').slice(-2000)}`));
    });
  });
}

/** Initialises a fresh datadir (root with no password on 127.0.0.1) and starts the server. */
export async function startPrivateMariaDb(): Promise<PrivateMariaDb> {
  if (!MARIADBD || !INSTALL_DB) throw new Error('mariadbd / mariadb-install-db are not installed');
  const mariadbd = MARIADBD;
  const root = mkdtempSync(path.join(os.tmpdir(), 'scancode-mariadb-'));
  const datadir = path.join(root, 'data');
  const logFile = path.join(root, 'server.log');
  const asRoot = process.getuid?.() === 0;
  await run(
    INSTALL_DB,
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...(asRoot ? ['--user=root'] : []),
    ],
    logFile,
  );
  const port = await freePort();
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  // A test that fails half-way must not leave a server running.
  const reap = () => child?.kill('SIGKILL');
  process.once('exit', reap);

  const answers = async (): Promise<boolean> => {
    try {
      const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
      await conn.query('SELECT 1');
      await conn.end();
      return true;
    } catch {
      return false;
    }
  };

  const db: PrivateMariaDb = {
    port,
    datadir,
    url: (database) => `mysql://root@127.0.0.1:${port}/${database}`,
    running: () => child !== null,
    async start() {
      if (child) throw new Error('private mariadbd is already running');
      const fd = openSync(logFile, 'a');
      const proc = spawn(
        mariadbd,
        [
          '--no-defaults',
          `--datadir=${datadir}`,
          `--socket=${path.join(root, 'mysqld.sock')}`,
          `--pid-file=${path.join(root, 'mysqld.pid')}`,
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          '--skip-name-resolve',
          '--innodb-buffer-pool-size=32M',
          // Durable commits (the default, stated): an acknowledged stock change must survive SIGKILL.
          '--innodb-flush-log-at-trx-commit=1',
          ...(asRoot ? ['--user=root'] : []),
        ],
        { stdio: ['ignore', fd, fd] },
      );
      closeSync(fd);
      child = proc;
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      void exited.then(() => {
        if (child === proc) child = null;
      });
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        if (child !== proc) throw new Error(`mariadbd exited during start-up:\n${db.log().slice(-3000)}`);
        if (await answers()) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`mariadbd did not answer within 30 s:\n${db.log().slice(-3000)}`);
    },
    async kill() {
      const proc = child;
      if (!proc) return;
      proc.kill('SIGKILL');
      await exited;
      child = null;
    },
    async destroy() {
      await db.kill();
      process.removeListener('exit', reap);
      rmSync(root, { recursive: true, force: true });
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
  await db.start();
  return db;
}
