import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import path from 'node:path';
import { startProc, type Proc } from './procs';

/*
 * The two balancers of the cluster test, as docs/DEPLOY.md describes them: TCP in front of the
 * Galera nodes (one writer, the others backups, health by wsrep state) and HTTP in front of the
 * app nodes (health by GET /healthz, X-Forwarded-For for the rate limits).
 */

export const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

export interface Balancer {
  port: number;
  proc: Proc;
  /** haproxy's `show stat`: each server's status (UP, DOWN, …) by name. */
  status(): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

/**
 * A node is healthy when it is Synced (wsrep_local_state 4) and ready: a donor, a joiner or a node
 * cut off from the primary component is not, though it still accepts TCP connections.
 */
const GALERA_CHECK = `#!/bin/sh
# haproxy external-check: $3 = server address, $4 = server port
out=$(/usr/bin/mariadb --protocol=tcp -h "$3" -P "$4" -uroot --connect-timeout=1 -N -B \\
  -e "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_local_state','wsrep_ready')" 2>/dev/null) || exit 1
echo "$out" | grep -q "^wsrep_local_state[[:space:]]*4$" || exit 1
echo "$out" | grep -q "^wsrep_ready[[:space:]]*ON$" || exit 1
exit 0
`;

export function galeraBalancerConfig(opts: { port: number; nodes: number[]; checkScript: string; statsSocket: string }): string {
  return `global
    maxconn 1000
    external-check
    insecure-fork-wanted
    stats socket ${opts.statsSocket} mode 600 level admin

defaults
    mode tcp
    timeout connect 1s
    timeout client 1h
    timeout server 1h
    retries 2
    option redispatch

listen galera
    bind 127.0.0.1:${opts.port}
    # One writer at a time: the first server that is up takes every connection; the backups only
    # when it is down. Writes through one node never meet certification conflicts.
    balance first
    option external-check
    external-check path "/usr/bin:/bin"
    external-check command ${opts.checkScript}
    # A node marked down takes its connections with it, so the app's pool reconnects elsewhere.
    default-server check inter 1s fall 2 rise 2 on-marked-down shutdown-sessions
${opts.nodes.map((port, i) => `    server node${i + 1} 127.0.0.1:${port}${i === 0 ? '' : ' backup'}`).join('\n')}
`;
}

export function appBalancerConfig(opts: { port: number; apps: number[]; statsSocket: string }): string {
  return `global
    maxconn 1000
    stats socket ${opts.statsSocket} mode 600 level admin

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    # Only a connection that failed is sent elsewhere: a request that reached a node is never
    # sent twice (a stock change without requestId must not be).
    retries 3
    option redispatch

frontend app
    bind 127.0.0.1:${opts.port}
    default_backend apps

backend apps
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    # The client's address for the rate limits; the app trusts it from this balancer (TRUST_PROXY).
    option forwardfor
    default-server check inter 500ms fall 2 rise 2
${opts.apps.map((port, i) => `    server app${i + 1} 127.0.0.1:${port}`).join('\n')}
`;
}

async function showStat(socket: string): Promise<Record<string, string>> {
  const text = await new Promise<string>((resolve, reject) => {
    let out = '';
    const conn = createConnection(socket);
    conn.on('connect', () => conn.write('show stat\n'));
    conn.on('data', (d) => (out += d.toString()));
    conn.on('end', () => resolve(out));
    conn.on('error', reject);
  });
  const status: Record<string, string> = {};
  const [header, ...lines] = text.split('\n');
  const cols = (header ?? '').replace(/^# /, '').split(',');
  const name = cols.indexOf('svname');
  const st = cols.indexOf('status');
  for (const line of lines) {
    const f = line.split(',');
    if (f[name] && !['FRONTEND', 'BACKEND'].includes(f[name]!)) status[f[name]!] = f[st] ?? '';
  }
  return status;
}

export async function startBalancer(dir: string, name: string, port: number, config: (statsSocket: string) => string): Promise<Balancer> {
  if (!HAPROXY) throw new Error('haproxy is not installed (apt-get install -y haproxy)');
  const statsSocket = path.join(dir, `${name}.sock`);
  const cfg = path.join(dir, `${name}.cfg`);
  writeFileSync(cfg, config(statsSocket));
  const proc = startProc(HAPROXY, ['-f', cfg, '-db'], path.join(dir, `${name}.log`));
  // Wait for the stats socket: haproxy is then listening.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (!proc.running()) throw new Error(`haproxy ${name} exited:\n${proc.log()}`);
    try {
      await showStat(statsSocket);
      break;
    } catch {
      if (Date.now() > deadline) throw new Error(`haproxy ${name} did not start:\n${proc.log()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { port, proc, status: () => showStat(statsSocket), stop: () => proc.kill('SIGKILL') };
}

export function writeGaleraCheck(dir: string): string {
  const file = path.join(dir, 'galera-check.sh');
  writeFileSync(file, GALERA_CHECK);
  chmodSync(file, 0o755);
  return file;
}
