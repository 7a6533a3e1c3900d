import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/*
 * `npx tsx bench/tools/profile.ts [file.cpuprofile | dir] [--focus knex]`: where the server process spent its CPU, from
 * a `node --cpu-prof` profile (`npm run bench -- --profile` writes them to bench/results/profiles/).
 * Prints self time by package / source area and the hottest functions, so a figure that falls
 * short can be traced to its cost without a flame-graph viewer. `--focus <area>` adds the inclusive
 * time of each function of that area (e.g. knex, @trpc/server, src/auth/sessions.ts).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function area(url: string): string {
  if (!url) return '(native / gc / idle)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const m = /\/(src|bench)\/(.+)$/.exec(url);
  return m ? `${m[1]}/${m[2]}` : url;
}

/** The main thread's profile: the largest one (tsx's loader thread writes a small one next to it). */
function largest(dir: string): string {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  if (!files[0]) throw new Error(`no .cpuprofile in ${dir}`);
  return files[0];
}

function main(): void {
  const args = process.argv.slice(2);
  const focusAt = args.indexOf('--focus');
  const focus = focusAt >= 0 ? args.splice(focusAt, 2)[1] : undefined;
  const arg = args[0] ?? path.resolve(__dirname, '../results/profiles/app');
  const file = statSync(arg).isDirectory() ? largest(arg) : arg;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  let total = 0;
  let idle = 0;
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    total += us;
    if (n.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    const a = area(n.callFrame.url);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const key = `${n.callFrame.functionName || '(anonymous)'}  ${a}:${n.callFrame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const busy = total - idle;
  // Inclusive: time with at least one frame of the area on the (synchronous) stack.
  const inclusive = new Map<string, number>();
  const focused = new Map<string, number>();
  for (const [id, us] of self) {
    const seen = new Set<string>();
    const seenFns = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (!n.callFrame.url) continue;
      const a = area(n.callFrame.url);
      seen.add(a);
      if (focus && a === focus) seenFns.add(`${n.callFrame.functionName || '(anonymous)'}:${n.callFrame.lineNumber + 1}`);
    }
    for (const a of seen) inclusive.set(a, (inclusive.get(a) ?? 0) + us);
    for (const f of seenFns) focused.set(f, (focused.get(f) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  console.log(`${file}\n${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages of busy time)\n`);
  console.log('self time by area');
  for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`  ${pct(us)}  ${a}`);
  console.log('\ninclusive time by area (synchronous stacks only)');
  for (const [a, us] of [...inclusive].sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`  ${pct(us)}  ${a}`);
  console.log('\nhottest functions (self time)');
  for (const [f, us] of [...fns].sort((x, y) => y[1] - x[1]).slice(0, 30)) console.log(`  ${pct(us)}  ${f}`);
  if (focus) {
    console.log(`\ninclusive time of ${focus} functions`);
    for (const [f, us] of [...focused].sort((x, y) => y[1] - x[1]).slice(0, 30)) console.log(`  ${pct(us)}  ${f}`);
  }
}

main();
