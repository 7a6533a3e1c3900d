import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Measurement } from './load';

export interface Target {
  text: string;
  pass: boolean;
}

export interface RowResult {
  id: string;
  title: string;
  subjectLabel: string;
  baselineLabel: string;
  subject: Measurement;
  baseline?: Measurement;
  /** Calls per HTTP request on the subject side (row 3's batch); throughput is shown per call. */
  subjectCallsPerRequest?: number;
  ratio: number | null;
  /** What the ratio divides: req/s (subject / baseline) or p99 latency. */
  ratioOf: 'throughput' | 'p99';
  errors: number;
  targets: Target[];
  notes: string[];
}

const fmtRate = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const fmtMs = (n: number) => (n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2));

export function errorCount(m: Measurement): number {
  return m.errors + m.timeouts + m.non2xx;
}

function side(m: Measurement | undefined, calls = 1): string[] {
  if (!m) return ['—', '—', '—', '—'];
  return [fmtRate(m.reqPerSec * calls), fmtMs(m.p50), fmtMs(m.p99), m.cpuUsPerReq === null ? '—' : (m.cpuUsPerReq / calls).toFixed(0)];
}

/**
 * Baseline CPU per call over subject CPU per call: the share of the bare route's efficiency the
 * subject reaches, measured in the servers' own CPU time and so far less noisy than req/s.
 */
export function cpuRatio(r: Pick<RowResult, 'subject' | 'baseline' | 'subjectCallsPerRequest'>): number | null {
  const s = r.subject.cpuUsPerReq;
  const b = r.baseline?.cpuUsPerReq;
  if (s === null || s === undefined || !b) return null;
  return b / (s / (r.subjectCallsPerRequest ?? 1));
}

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((v, c) => (c <= 1 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(cells[0]!), rule, ...cells.slice(1).map(line)].join('\n');
}

export function renderTable(rows: RowResult[]): string {
  const header = [
    '#',
    'subject vs baseline',
    'subj/s',
    'p50 ms',
    'p99 ms',
    'cpu µs',
    'base/s',
    'p50 ms',
    'p99 ms',
    'cpu µs',
    'ratio',
    'cpu ratio',
    'errors',
    'target',
  ];
  const body = rows.map((r) => [
    r.id,
    `${r.subjectLabel} vs ${r.baselineLabel}`,
    ...side(r.subject, r.subjectCallsPerRequest ?? 1),
    ...side(r.baseline),
    r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×${r.ratioOf === 'p99' ? ' p99' : ''}`,
    ((c) => (c === null ? '—' : `${c.toFixed(2)}×`))(cpuRatio(r)),
    String(r.errors),
    r.targets.length === 0 ? '—' : r.targets.map((t) => `${t.pass ? 'PASS' : 'MISS'} ${t.text}`).join('; '),
  ]);
  return pad([header, ...body]);
}

export function writeResults(dir: string, name: string, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}
