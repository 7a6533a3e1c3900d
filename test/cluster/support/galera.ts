import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { startProc, waitFor, type Proc } from './procs';

/*
 * A 3-node MariaDB Galera cluster on loopback, fresh datadirs under `dir` (facts behind each
 * setting: ../../../../shared/notes/scale-out.md, summarised in docs/DEPLOY.md). Node 1 is
 * initialised and bootstraps the cluster; nodes 2 and 3 start empty and copy it by rsync (SST).
 */

export const GALERA_PROVIDER = '/usr/lib/galera/libgalera_smm.so';

interface NodePorts {
  mysql: number;
  gcomm: number;
  ist: number;
  sst: number;
}

/** Fixed ports (the machine's own server holds 3306): node N listens on 3306N. */
export const NODE_PORTS: readonly NodePorts[] = [
  { mysql: 33061, gcomm: 4567, ist: 4568, sst: 4464 },
  { mysql: 33062, gcomm: 4577, ist: 4578, sst: 4474 },
  { mysql: 33063, gcomm: 4587, ist: 4588, sst: 4484 },
];

export interface GaleraNode {
  index: number;
  port: number;
  running(): boolean;
  /** Starts mariadbd on the node's datadir (joining the cluster) and waits until it is Synced. */
  start(opts?: { bootstrap?: boolean; timeoutMs?: number }): Promise<void>;
  /** SIGKILL. */
  kill(): Promise<void>;
  /** wsrep_local_state_comment ("Synced", "Donor/Desynced", …), or null when it does not answer. */
  state(): Promise<string | null>;
  log(): string;
}

export interface GaleraCluster {
  nodes: GaleraNode[];
  stop(): Promise<void>;
}

function config(dir: string, i: number, wsrep = true): string {
  const p = NODE_PORTS[i]!;
  const gcomm = NODE_PORTS.map((n) => `127.0.0.1:${n.gcomm}`).join(',');
  const nodeDir = path.join(dir, `node${i + 1}`);
  const wsrepLines = `wsrep_on=ON
wsrep_provider=${GALERA_PROVIDER}
wsrep_cluster_name=scancode_test
wsrep_cluster_address=gcomm://${gcomm}
wsrep_node_name=node${i + 1}
wsrep_node_address=127.0.0.1:${p.gcomm}
wsrep_node_incoming_address=127.0.0.1:${p.mysql}
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:${p.gcomm};ist.recv_addr=127.0.0.1:${p.ist};gcache.size=32M;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.keepalive_period=PT0.5S"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:${p.sst}
`;
  return `[mariadbd]
datadir=${path.join(nodeDir, 'data')}
socket=${path.join(nodeDir, 'mysqld.sock')}
pid-file=${path.join(nodeDir, 'mysqld.pid')}
log-error=${path.join(nodeDir, 'error.log')}
port=${p.mysql}
bind-address=127.0.0.1
user=mysql
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=48M
innodb_log_file_size=32M
# Durability across a process kill comes from the OS page cache; across a node loss, from the
# cluster (every acknowledged commit is on the other nodes before the client hears of it).
innodb_flush_log_at_trx_commit=2
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
${wsrep ? wsrepLines : ''}`;
}

export async function nodeState(port: number): Promise<string | null> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
    const [rows] = await conn.query<mysql.RowDataPacket[]>("SHOW STATUS LIKE 'wsrep_local_state_comment'");
    return rows[0] ? String(rows[0].Value) : null;
  } catch {
    return null;
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

export async function startGaleraCluster(dir: string): Promise<GaleraCluster> {
  const nodes: GaleraNode[] = NODE_PORTS.map((ports, i) => {
    const nodeDir = path.join(dir, `node${i + 1}`);
    mkdirSync(path.join(nodeDir, 'data'), { recursive: true });
    const cnf = path.join(nodeDir, 'my.cnf');
    writeFileSync(cnf, config(dir, i));
    let proc: Proc | null = null;
    const node: GaleraNode = {
      index: i,
      port: ports.mysql,
      running: () => proc?.running() ?? false,
      async start(opts = {}) {
        if (proc?.running()) throw new Error(`node${i + 1} is already running`);
        const me = startProc(
          '/usr/sbin/mariadbd',
          [`--defaults-file=${cnf}`, ...(opts.bootstrap ? ['--wsrep-new-cluster'] : [])],
          path.join(nodeDir, 'stdout.log'),
        );
        proc = me;
        await waitFor(
          `node${i + 1} to be Synced`,
          async () => {
            if (!me.running()) throw new Error(`node${i + 1} exited during start-up:\n${node.log().slice(-3000)}`);
            return (await node.state()) === 'Synced';
          },
          opts.timeoutMs ?? 90_000,
          250,
        );
      },
      async kill() {
        await proc?.kill('SIGKILL');
      },
      state: () => nodeState(ports.mysql),
      log: () => {
        const file = path.join(nodeDir, 'error.log');
        return existsSync(file) ? readFileSync(file, 'utf8') : '';
      },
    };
    return node;
  });

  // The joiner's rsync daemon writes as the server's user (mysql), so the datadirs belong to it.
  chmodSync(dir, 0o755);
  execFileSync('chown', ['-R', 'mysql:mysql', ...nodes.map((_, i) => path.join(dir, `node${i + 1}`))]);
  const first = path.join(dir, 'node1');
  const install = startProc(
    '/usr/bin/mariadb-install-db',
    [`--defaults-file=${path.join(first, 'my.cnf')}`, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db'],
    path.join(first, 'install.log'),
  );
  const code = await install.exited;
  if (code !== 0) throw new Error(`mariadb-install-db failed (${code}):\n${install.log().slice(-3000)}`);

  const cluster: GaleraCluster = {
    nodes,
    async stop() {
      await Promise.all(nodes.map((n) => n.kill()));
    },
  };
  await nodes[0]!.start({ bootstrap: true });
  // One joiner at a time: a donor serves one state transfer at once.
  await nodes[1]!.start();
  await nodes[2]!.start();
  return cluster;
}

/**
 * One MariaDB with the settings of a cluster node but no replication (node 1's ports and a datadir
 * of its own): the single-server baseline of `npm run bench -- --cluster`.
 */
export async function startStandaloneMariaDb(dir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const nodeDir = path.join(dir, 'node1');
  mkdirSync(path.join(nodeDir, 'data'), { recursive: true });
  const cnf = path.join(nodeDir, 'my.cnf');
  writeFileSync(cnf, config(dir, 0, false));
  chmodSync(dir, 0o755);
  execFileSync('chown', ['-R', 'mysql:mysql', nodeDir]);
  const install = startProc(
    '/usr/bin/mariadb-install-db',
    [`--defaults-file=${cnf}`, '--user=mysql', '--auth-root-authentication-method=normal', '--skip-test-db'],
    path.join(nodeDir, 'install.log'),
  );
  if ((await install.exited) !== 0) throw new Error(`mariadb-install-db failed:\n${install.log().slice(-3000)}`);
  const proc = startProc('/usr/sbin/mariadbd', [`--defaults-file=${cnf}`], path.join(nodeDir, 'stdout.log'));
  const port = NODE_PORTS[0]!.mysql;
  await waitFor(
    'the standalone MariaDB to answer',
    async () => {
      if (!proc.running()) throw new Error('the standalone mariadbd exited during start-up');
      return answers(port);
    },
    60_000,
    250,
  );
  return { port, stop: () => proc.kill('SIGKILL') };
}

async function answers(port: number): Promise<boolean> {
  try {
    const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 1000 });
    await conn.end();
    return true;
  } catch {
    return false;
  }
}
