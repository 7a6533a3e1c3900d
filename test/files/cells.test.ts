import { describe, expect, it } from 'vitest';
import { columnOfHeader, neutraliseFormula, restoreNeutralised, wallClock, yuanText } from '../../src/files/cells';

describe('spreadsheet cells', () => {
  it('shows the wall clock of the zone, across daylight-saving changes and odd offsets', () => {
    for (const zone of ['Asia/Shanghai', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'Europe/Berlin']) {
      const clock = wallClock(zone);
      const reference = new Intl.DateTimeFormat('sv-SE', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: '2-digit',
        day: '2-digit',
        hour: '2-digit',
        minute: '2-digit',
        second: '2-digit',
      });
      // Every 7 min 13 s through 2026: each quarter hour, both sides of every transition.
      for (let t = Date.UTC(2026, 0, 1); t < Date.UTC(2027, 0, 1); t += 433_000) {
        const { text, asUtc } = clock(new Date(t));
        expect(text).toBe(reference.format(t));
        expect(asUtc.toISOString().slice(0, 19).replace('T', ' ')).toBe(text);
      }
    }
    expect(wallClock('Asia/Shanghai')(new Date('2026-01-31T17:30:05.999Z')).text).toBe('2026-02-01 01:30:05');
  });

  it('neutralises formula-like CSV text so that the import gives back the original', () => {
    for (const text of ['=1+1', '+1', '-1', '@SUM(A1)', '\t=x', '\r=x', "'=x", "''+x", "'plain", 'plain', '', '中文', '1-2']) {
      const out = neutraliseFormula(text);
      expect(/^[=+\-@\t\r]/.test(out)).toBe(false);
      expect(restoreNeutralised(out)).toBe(text);
    }
    expect(neutraliseFormula('=1+1')).toBe("'=1+1");
    expect(neutraliseFormula('1-2')).toBe('1-2');
  });

  it('names columns by English or Chinese headers in any case', () => {
    expect(columnOfHeader('条码 code')).toBe('code');
    expect(columnOfHeader('  CODE ')).toBe('code');
    expect(columnOfHeader('条形码')).toBe('code');
    expect(columnOfHeader('单价 price')).toBe('price');
    expect(columnOfHeader('MinQuantity')).toBe('minQuantity');
    expect(columnOfHeader('安全库存')).toBe('minQuantity');
    expect(columnOfHeader('最后变动 lastActiveAt')).toBe('lastActiveAt');
    expect(columnOfHeader('colour')).toBeNull();
    expect(columnOfHeader('')).toBeNull();
  });

  it('writes fen as yuan with two decimals, exactly', () => {
    expect([0, 5, 99, 100, 1250, 100_000_000].map(yuanText)).toEqual(['0.00', '0.05', '0.99', '1.00', '12.50', '1000000.00']);
  });
});
