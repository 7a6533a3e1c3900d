import os from 'node:os';

/** What one `npm run bench` does; `--quick` shrinks everything so CI can prove the script runs. */
export interface BenchOptions {
  quick: boolean;
  /** Base MySQL/MariaDB URL; the database part names the benchmark database (default scancode_bench). */
  databaseUrl: string;
  /** Seconds per measurement (one side of one round). */
  durationSec: number;
  warmupSec: number;
  /** Measurements alternate subject/baseline this many times; the best round of each side is kept. */
  rounds: number;
  connections: number;
  poolMax: number;
  /** Seeded users whose goods the load scans and stocks in; each has one directory. */
  benchUsers: number;
  goodsPerUser: number;
  /** Goods rows in the table for rows 1–3 and the small side of row 4 (bench users' goods included). */
  smallGoods: number;
  /** Goods rows for the large side of row 4. */
  largeGoods: number;
  insertChunk: number;
  /** Row 5: starting quantity of the contended goods, stock-outs and stock-ins fired at it. */
  hot: { start: number; outs: number; ins: number; retries: number };
  /**
   * Only these rows (ids as printed, e.g. "1", "2r", "4"); all when empty. "S", "T" (stocktake completion and
   * "S", "T" (stocktake completion and transfers, bench/inventory.ts) run only when named.
   */
  only: string[];
  /** Run the servers under `node --cpu-prof`, profiles in bench/results/profiles/. */
  profile: boolean;
  /** Keep the benchmark databases afterwards (they are dropped and recreated at the next run anyway). */
  keep: boolean;
  /**
   * Indexes ("table.index") dropped from the benchmark databases after migrating: an experiment
   * to measure what a schema change would do, never applied anywhere else.
   */
  dropIndexes: Array<{ table: string; index: string }>;
  /** Extra node flags for the real server's process only (e.g. --max-semi-space-size=32): a tuning experiment. */
  appNodeFlags: string[];
}

/** The rows `npm run bench` knows, as printed. */
export const ROW_IDS = ['1', '1i', '2', '2r', '3', '4', '5'];

export const DEFAULT_BENCH_DATABASE_URL = 'mysql://root@127.0.0.1:3306/scancode_bench';

function optionValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`${name}=`));
  return eq?.slice(name.length + 1);
}

function numberOf(argv: string[], name: string): number | undefined {
  const v = optionValue(argv, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, not "${v}"`);
  return n;
}

export const USAGE = `Usage: npm run bench -- [--quick] [--only 1,1i,2,2r,3,4,5,L,S,T] [--duration S] [--rounds N]
                      [--connections N] [--pool N] [--profile] [--keep] [--drop-index table.index,...]
                      [--app-node-flags "--max-semi-space-size=32 ..."]
Environment: BENCH_DATABASE_URL (default ${DEFAULT_BENCH_DATABASE_URL})`;

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  const known = new Set([
    '--quick',
    '--only',
    '--duration',
    '--rounds',
    '--connections',
    '--pool',
    '--profile',
    '--keep',
    '--drop-index',
    '--app-node-flags',
  ]);
  const takesValue = new Set(['--only', '--duration', '--rounds', '--connections', '--pool', '--drop-index', '--app-node-flags']);
  argv.forEach((a, i) => {
    if (i > 0 && takesValue.has(argv[i - 1]!)) return;
    if (a.startsWith('--') && !known.has(a.split('=')[0] ?? a)) throw new Error(`Unknown option ${a}\n${USAGE}`);
  });
  const quick = argv.includes('--quick');
  const base = quick
    ? {
        durationSec: 2,
        warmupSec: 1,
        rounds: 1,
        connections: 20,
        benchUsers: 20,
        goodsPerUser: 25,
        smallGoods: 1_000,
        largeGoods: 20_000,
        hot: { start: 100, outs: 150, ins: 25, retries: 20 },
      }
    : {
        durationSec: 6,
        warmupSec: 2,
        rounds: 2,
        connections: 50,
        benchUsers: 100,
        goodsPerUser: 50,
        smallGoods: 10_000,
        largeGoods: 1_000_000,
        hot: { start: 1_000, outs: 1_500, ins: 250, retries: 100 },
      };
  const only = (optionValue(argv, '--only') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknownRows = only.filter((id) => !ROW_IDS.includes(id));
  if (unknownRows.length) throw new Error(`--only: no row ${unknownRows.join(', ')} (rows: ${ROW_IDS.join(' ')})\n${USAGE}`);
  return {
    quick,
    databaseUrl: env.BENCH_DATABASE_URL || DEFAULT_BENCH_DATABASE_URL,
    ...base,
    durationSec: numberOf(argv, '--duration') ?? base.durationSec,
    rounds: Math.round(numberOf(argv, '--rounds') ?? base.rounds),
    connections: Math.round(numberOf(argv, '--connections') ?? base.connections),
    poolMax: Math.round(numberOf(argv, '--pool') ?? 10),
    insertChunk: 5_000,
    only,
    profile: argv.includes('--profile'),
    keep: argv.includes('--keep'),
    appNodeFlags: (optionValue(argv, '--app-node-flags') ?? '').split(/\s+/).filter(Boolean),
    dropIndexes: (optionValue(argv, '--drop-index') ?? '')
      .split(',')
      .filter(Boolean)
      .map((spec) => {
        const m = /^(\w+)\.(\w+)$/.exec(spec.trim());
        if (!m) throw new Error(`--drop-index takes table.index, not "${spec}"`);
        return { table: m[1]!, index: m[2]! };
      }),
  };
}

export function machineInfo(): { cpus: number; cpuModel: string; node: string; platform: string } {
  const cpus = os.cpus();
  return { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', node: process.version, platform: `${os.platform()} ${os.release()}` };
}
