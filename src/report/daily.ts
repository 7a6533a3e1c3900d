import { TRPCError } from '@trpc/server';
import type { Db } from '../db/knex';
import { authorizeDirectory } from '../directory/directories';
import { visibleHistory } from '../history/history';

/*
 * report.daily: stock movement per calendar day of an IANA time zone, summed in SQL from the
 * history. Neither database knows time zones alike (SQLite none, MySQL only with its zone tables
 * loaded), so the days' boundaries are computed here, as UTC instants, with the Intl API, which
 * knows every zone's rules including daylight saving time; the query then buckets each history row
 * by the boundaries it falls between (a CASE over bound values) and groups by bucket. A day in a
 * zone with DST can be 23 or 25 hours long, which fixed offsets would get wrong.
 */

export const MAX_REPORT_DAYS = 366;

export interface DailyRow {
  date: string;
  in: number;
  out: number;
  adjust: number;
  net: number;
}

const IN_TYPES = ['stock.in', 'transfer.in'] as const;
const OUT_TYPES = ['stock.out', 'transfer.out'] as const;
const ADJUST_TYPES = ['stock.adjust', 'stock.count', 'stock.import'] as const;

interface CalendarDate {
  y: number;
  m: number;
  d: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock date and time in `zone` at instant `ms`. */
function wallClock(ms: number, zone: string): CalendarDate & { h: number; min: number; s: number } {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { y: parts.year!, m: parts.month!, d: parts.day!, h: parts.hour!, min: parts.minute!, s: parts.second! };
}

/** How far `zone`'s wall clock is ahead of UTC at instant `ms`, in milliseconds. */
function offsetAt(ms: number, zone: string): number {
  const w = wallClock(ms, zone);
  const asUtc = Date.UTC(w.y, w.m - 1, w.d, w.h, w.min, w.s);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The first instant of a calendar day in `zone`. Midnight's offset is found by trying the offsets
 * in force just before and after it; where a zone skips midnight (DST starting at 00:00), the day
 * begins at the first instant that exists, which is the one the later offset gives.
 */
export function startOfDay(date: CalendarDate, zone: string): number {
  const local = Date.UTC(date.y, date.m - 1, date.d);
  const candidates = [offsetAt(local - 36 * 3600_000, zone), offsetAt(local + 36 * 3600_000, zone)];
  let best: number | null = null;
  for (const off of candidates) {
    const t = local - off;
    const w = wallClock(t, zone);
    if (w.y === date.y && w.m === date.m && w.d === date.d && w.h === 0 && w.min === 0 && w.s === 0) {
      if (best === null || t < best) best = t;
    }
  }
  if (best !== null) return best;
  // Midnight does not exist that day: the day starts when the clocks jump forward.
  return Math.max(...candidates.map((off) => local - off));
}

function nextDate(date: CalendarDate): CalendarDate {
  const t = new Date(Date.UTC(date.y, date.m - 1, date.d + 1));
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}

function isoDate(date: CalendarDate): string {
  return `${String(date.y).padStart(4, '0')}-${String(date.m).padStart(2, '0')}-${String(date.d).padStart(2, '0')}`;
}

/**
 * The calendar days in `zone` from the one holding `from` to the one holding `to`, each with its
 * first instant, and the instant the last one ends. BAD_REQUEST beyond MAX_REPORT_DAYS.
 */
export function calendarDays(from: Date, to: Date, zone: string): { days: { date: string; start: number }[]; end: number } {
  if (to.getTime() < from.getTime()) throw new TRPCError({ code: 'BAD_REQUEST', message: '`to` must not be before `from`' });
  const first = wallClock(from.getTime(), zone);
  const last = isoDate(wallClock(to.getTime(), zone));
  const days: { date: string; start: number }[] = [];
  let day: CalendarDate = { y: first.y, m: first.m, d: first.d };
  for (;;) {
    const date = isoDate(day);
    days.push({ date, start: startOfDay(day, zone) });
    if (date === last) break;
    if (days.length >= MAX_REPORT_DAYS) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: `A report covers at most ${MAX_REPORT_DAYS} days` });
    }
    day = nextDate(day);
  }
  return { days, end: startOfDay(nextDate(day), zone) };
}

interface BucketRow {
  bucket: number | string;
  in_sum: number | string | null;
  out_sum: number | string | null;
  adjust_sum: number | string | null;
}

function sumOf(types: readonly string[], sign: 1 | -1): [string, string[]] {
  return [
    `SUM(CASE WHEN ?? IN (${types.map(() => '?').join(', ')}) THEN ${sign === 1 ? '' : '-'}?? ELSE 0 END)`,
    ['l.type', ...types, 'l.delta'],
  ];
}

/**
 * One row per calendar day of `timeZone` from `from` to `to`, over one warehouse (NOT_FOUND unless
 * the caller is a member) or every history row log.list would show the caller. One query.
 */
export async function dailyReport(
  db: Db,
  userId: number,
  opts: { directoryId?: number; from: Date; to: Date; timeZone: string },
): Promise<DailyRow[]> {
  const { days, end } = calendarDays(opts.from, opts.to, opts.timeZone);
  if (opts.directoryId !== undefined) await authorizeDirectory(db, userId, opts.directoryId, 'read');
  const first = days[0]!.start;
  const query = visibleHistory(db, userId, {
    ...(opts.directoryId === undefined ? {} : { directoryId: opts.directoryId }),
    from: new Date(first),
    to: new Date(end),
  });
  // Day i holds the rows from its start to the next day's start; the first day needs no test.
  const bucketCases = days
    .slice(1)
    .map(() => 'WHEN ?? < ? THEN ?')
    .join(' ');
  const bucketBindings = days.slice(1).flatMap((day, i) => ['l.created_at', new Date(day.start), i]);
  // A one-day report has no boundary to test: every row is day 0 (and `CASE ELSE … END` is no SQL).
  const bucket = days.length > 1 ? `CASE ${bucketCases} ELSE ? END` : '?';
  const [inSql, inBindings] = sumOf(IN_TYPES, 1);
  const [outSql, outBindings] = sumOf(OUT_TYPES, -1);
  const [adjustSql, adjustBindings] = sumOf(ADJUST_TYPES, 1);
  const rows = (await query
    .clearSelect()
    .select(db.raw(`${bucket} AS ??`, [...bucketBindings, days.length - 1, 'bucket']))
    .select(db.raw(`${inSql} AS ??`, [...inBindings, 'in_sum']))
    .select(db.raw(`${outSql} AS ??`, [...outBindings, 'out_sum']))
    .select(db.raw(`${adjustSql} AS ??`, [...adjustBindings, 'adjust_sum']))
    .whereIn('l.type', [...IN_TYPES, ...OUT_TYPES, ...ADJUST_TYPES])
    .groupBy('bucket')) as BucketRow[];

  const byBucket = new Map(rows.map((r) => [Number(r.bucket), r]));
  return days.map((day, i) => {
    const r = byBucket.get(i);
    const inQty = Number(r?.in_sum ?? 0);
    const outQty = Number(r?.out_sum ?? 0);
    const adjust = Number(r?.adjust_sum ?? 0);
    return { date: day.date, in: inQty, out: outQty, adjust, net: inQty - outQty + adjust };
  });
}
