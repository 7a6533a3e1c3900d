import { beforeAll, describe, expect, it } from 'vitest';
import { calendarDays, startOfDay } from '../../src/report/daily';
import { type TestUser, useTestApp } from '../helpers/app';
import { expectInvalid, expectTRPCError } from '../domain/helpers';
import { addMember } from './helpers';

const HOUR = 3600_000;
const MINUTE = 60_000;

describe('day boundaries of a time zone', () => {
  it('are local midnights in UTC, DST and skipped midnights included', () => {
    const at = (zone: string, y: number, m: number, d: number) => new Date(startOfDay({ y, m, d }, zone)).toISOString();
    expect(at('Asia/Shanghai', 2026, 7, 1)).toBe('2026-06-30T16:00:00.000Z');
    // New York springs forward on 8 March and falls back on 1 November 2026: 23- and 25-hour days.
    expect(at('America/New_York', 2026, 3, 8)).toBe('2026-03-08T05:00:00.000Z');
    expect(at('America/New_York', 2026, 3, 9)).toBe('2026-03-09T04:00:00.000Z');
    expect(at('America/New_York', 2026, 11, 2)).toBe('2026-11-02T05:00:00.000Z');
    // Havana and Santiago skip midnight itself: their day starts at 01:00.
    expect(at('America/Havana', 2026, 3, 8)).toBe('2026-03-08T05:00:00.000Z');
    expect(at('America/Santiago', 2026, 9, 6)).toBe('2026-09-06T04:00:00.000Z');
    // Lord Howe moves by half an hour.
    expect(at('Australia/Lord_Howe', 2026, 4, 5)).toBe('2026-04-04T13:00:00.000Z');
  });

  it('span the days holding from and to, at most 366', () => {
    const { days, end } = calendarDays(new Date('2026-03-07T12:00:00Z'), new Date('2026-03-09T12:00:00Z'), 'America/New_York');
    expect(days.map((d) => d.date)).toEqual(['2026-03-07', '2026-03-08', '2026-03-09']);
    expect(new Date(end).toISOString()).toBe('2026-03-10T04:00:00.000Z');
    expect(calendarDays(new Date('2028-01-01T00:00:00Z'), new Date('2028-12-31T23:00:00Z'), 'UTC').days).toHaveLength(366);
    expect(() => calendarDays(new Date('2026-01-01T00:00:00Z'), new Date('2027-01-02T00:00:00Z'), 'UTC')).toThrow(/366/);
  });
});

describe('report.daily', () => {
  let owner: TestUser;
  let a: number;
  let b: number;
  // 23:00 on 30 June in Shanghai.
  const start = new Date('2026-06-30T15:00:00.000Z');

  const t = useTestApp({ clock: () => start });
  beforeAll(async () => {
    owner = await t.newUser();
    a = (await owner.caller.directory.create({ name: 'rep A' })).id;
    b = (await owner.caller.directory.create({ name: 'rep B' })).id;
    const c = owner.caller;
    await c.goods.stockIn({ directoryId: a, code: 'r1', quantity: 10 }); // 30 Jun 23:00
    t.advanceClock(30 * MINUTE);
    await c.goods.stockOut({ directoryId: a, code: 'r1', quantity: 2 }); // 30 Jun 23:30
    t.advanceClock(29 * MINUTE + 59_000);
    await c.goods.stockOut({ directoryId: a, code: 'r1', quantity: 1 }); // 30 Jun 23:59:59
    t.advanceClock(1000);
    await c.goods.stockIn({ directoryId: a, code: 'r1', quantity: 4 }); // 1 Jul 00:00:00, the boundary itself
    t.advanceClock(10 * MINUTE);
    await c.goods.transfer({ fromDirectoryId: a, toDirectoryId: b, code: 'r1', quantity: 3 });
    const r1 = (await c.goods.scan({ directoryId: a, code: 'r1' }))!;
    await c.goods.adjust({ id: r1.id, quantity: 5, reason: 'broken' });
    t.advanceClock(25 * HOUR); // 2 Jul 01:10
    const st = await c.stocktake.start({ directoryId: b });
    await c.stocktake.count({ stocktakeId: st.id, code: 'r1', quantity: 1, mode: 'set' });
    await c.stocktake.count({ stocktakeId: st.id, code: 'new', quantity: 6 });
    await c.stocktake.complete({ id: st.id });
    await c.directory.rename({ id: b, name: 'rep B2' }); // not a movement
  });

  /** The history's own sums per day of `zone`, computed here from every row. */
  async function fromHistory(dirIds: number[], zone: string) {
    const rows = (await t.db('logs').whereIn('directory_id', dirIds).whereNotNull('delta').select('type', 'delta', 'created_at')) as {
      type: string;
      delta: number;
      created_at: Date | number;
    }[];
    const fmt = new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' });
    const days: Record<string, { in: number; out: number; adjust: number }> = {};
    for (const r of rows) {
      const day = fmt.format(new Date(r.created_at));
      days[day] ??= { in: 0, out: 0, adjust: 0 };
      const d = days[day];
      if (r.type === 'stock.in' || r.type === 'transfer.in') d.in += r.delta;
      else if (r.type === 'stock.out' || r.type === 'transfer.out') d.out -= r.delta;
      else d.adjust += r.delta;
    }
    return days;
  }

  it('sums per Shanghai day, the boundary row on its new day, days without movement as zeros', async () => {
    const report = await owner.caller.report.daily({
      directoryId: a,
      from: new Date('2026-06-29T16:00:00.000Z'),
      to: new Date('2026-07-03T12:00:00.000Z'),
    });
    expect(report).toEqual([
      { date: '2026-06-30', in: 10, out: 3, adjust: 0, net: 7 },
      { date: '2026-07-01', in: 4, out: 3, adjust: -3, net: -2 },
      { date: '2026-07-02', in: 0, out: 0, adjust: 0, net: 0 },
      { date: '2026-07-03', in: 0, out: 0, adjust: 0, net: 0 },
    ]);
    const history = await fromHistory([a], 'Asia/Shanghai');
    for (const row of report)
      expect({ in: row.in, out: row.out, adjust: row.adjust }).toEqual(history[row.date] ?? { in: 0, out: 0, adjust: 0 });
    // The net of the whole range is what the warehouse holds now.
    const onHand = (await owner.caller.directory.get({ id: a })).totalQuantity;
    expect(report.reduce((s, r) => s + r.net, 0)).toBe(onHand);
  });

  it('a one-day report (from and to in the same day, or the same instant) is that day alone', async () => {
    const day = { date: '2026-06-30', in: 10, out: 3, adjust: 0, net: 7 };
    const instant = new Date('2026-06-30T01:00:00.000Z');
    expect(await owner.caller.report.daily({ directoryId: a, from: instant, to: instant })).toEqual([day]);
    expect(await owner.caller.report.daily({ directoryId: a, from: instant, to: new Date('2026-06-30T15:59:59.999Z') })).toEqual([day]);
  });

  it('every warehouse the caller sees, in another zone: the same history, other days', async () => {
    const range = { from: new Date('2026-06-30T00:00:00.000Z'), to: new Date('2026-07-02T23:00:00.000Z') };
    for (const timeZone of ['UTC', 'America/New_York', 'Asia/Shanghai']) {
      const report = await owner.caller.report.daily({ ...range, timeZone });
      const history = await fromHistory([a, b], timeZone);
      const zero = { in: 0, out: 0, adjust: 0 };
      for (const row of report) {
        expect({ in: row.in, out: row.out, adjust: row.adjust }, `${timeZone} ${row.date}`).toEqual(history[row.date] ?? zero);
        expect(row.net).toBe(row.in - row.out + row.adjust);
      }
      const total = (s: { in: number; out: number; adjust: number }[]) => s.reduce((n, r) => n + r.in - r.out + r.adjust, 0);
      expect(total(report)).toBe(total(Object.values(history)));
    }
    const utc = await owner.caller.report.daily({ ...range, timeZone: 'UTC' });
    // In UTC everything before 2 July happened on 30 June; the stocktake on 2 July 01:10 Shanghai is 1 July 17:10 UTC.
    expect(utc.map((r) => r.date)).toEqual(['2026-06-30', '2026-07-01', '2026-07-02']);
    expect(utc[0]).toEqual({ date: '2026-06-30', in: 14 + 3, out: 3 + 3, adjust: -3, net: 8 });
    expect(utc[1]).toEqual({ date: '2026-07-01', in: 0, out: 0, adjust: -2 + 6, net: 4 });
  });

  it('a viewer reads it; a stranger gets NOT_FOUND for the warehouse and an empty report overall', async () => {
    const viewer = await t.newUser();
    await addMember(t, a, viewer, 'viewer');
    const range = { from: new Date('2026-06-30T00:00:00.000Z'), to: new Date('2026-07-01T00:00:00.000Z') };
    expect(await viewer.caller.report.daily({ ...range, directoryId: a })).toEqual(
      await owner.caller.report.daily({ ...range, directoryId: a }),
    );
    const stranger = await t.newUser();
    await expectTRPCError(stranger.caller.report.daily({ ...range, directoryId: a }), 'NOT_FOUND');
    const mine = await stranger.caller.report.daily(range);
    expect(mine.every((r) => r.in === 0 && r.out === 0 && r.adjust === 0)).toBe(true);
  });

  it('buckets by the zone’s rules on a daylight-saving day (New York, 8 March 2026: 23 hours)', async () => {
    const u = await t.newUser();
    const dir = (await u.caller.directory.create({ name: 'dst' })).id;
    const row = (iso: string, delta: number) => ({
      user_id: u.userId,
      type: 'stock.in',
      directory_id: dir,
      directory_name: 'dst',
      delta,
      quantity_after: 0,
      created_at: new Date(iso),
    });
    await t.db('logs').insert([
      row('2026-03-08T04:30:00Z', 1), // 23:30 EST on 7 March
      row('2026-03-08T05:00:00Z', 10), // 00:00 EST on 8 March
      row('2026-03-09T03:30:00Z', 100), // 23:30 EDT on 8 March
      row('2026-03-09T04:30:00Z', 1000), // 00:30 EDT on 9 March: a fixed −5 h offset would say 8 March
    ]);
    const report = await u.caller.report.daily({
      directoryId: dir,
      from: new Date('2026-03-07T12:00:00Z'),
      to: new Date('2026-03-09T12:00:00Z'),
      timeZone: 'America/New_York',
    });
    expect(report.map((r) => [r.date, r.in])).toEqual([
      ['2026-03-07', 1],
      ['2026-03-08', 110],
      ['2026-03-09', 1000],
    ]);
  });

  it('refuses more than 366 days, to before from, and unknown zones', async () => {
    await expectTRPCError(
      owner.caller.report.daily({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-02T00:00:00Z'), timeZone: 'UTC' }),
      'BAD_REQUEST',
    );
    expect(
      await owner.caller.report.daily({ from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z'), timeZone: 'UTC' }),
    ).toHaveLength(366);
    await expectTRPCError(
      owner.caller.report.daily({ from: new Date('2026-02-01T00:00:00Z'), to: new Date('2026-01-01T00:00:00Z') }),
      'BAD_REQUEST',
    );
    await expectInvalid(owner.caller.report.daily({ from: new Date(), to: new Date(), timeZone: 'Mars/Olympus' }), 'timeZone');
  });
});
