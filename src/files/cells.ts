/*
 * What the goods sheet's columns are called and how values look in a spreadsheet cell, shared by the
 * export (which writes them) and the import (which reads them back): a goods sheet exported and
 * imported again must come back exactly as it left.
 */

/** The goods sheet's columns, in order, with the bilingual headers API.md fixes. */
export const GOODS_HEADERS = {
  code: '条码 code',
  name: '名称 name',
  quantity: '数量 quantity',
  unit: '单位 unit',
  price: '单价 price',
  minQuantity: '安全库存 minQuantity',
  remarks: '备注 remarks',
  lastActiveAt: '最后变动 lastActiveAt',
} as const;
export type GoodsColumn = keyof typeof GOODS_HEADERS;

/** Words a header may use for each column, compared lower-cased; a header matches when it is one of them or one of its words is. */
const HEADER_WORDS: Record<GoodsColumn, readonly string[]> = {
  code: ['code', 'barcode', '条码', '条形码'],
  name: ['name', '名称', '品名', '商品名称'],
  quantity: ['quantity', 'qty', '数量'],
  unit: ['unit', '单位'],
  price: ['price', '单价', '价格'],
  minQuantity: ['minquantity', 'min_quantity', 'min quantity', '安全库存'],
  remarks: ['remarks', 'remark', '备注'],
  lastActiveAt: ['lastactiveat', 'last_active_at', '最后变动'],
};

/** The column a header names, or null: English or Chinese, any case, as exported or alone. */
export function columnOfHeader(header: string): GoodsColumn | null {
  const text = header.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, ' ');
  if (!text) return null;
  const words = [text, ...text.split(' ')];
  for (const [column, names] of Object.entries(HEADER_WORDS) as [GoodsColumn, readonly string[]][]) {
    if (words.some((w) => names.includes(w))) return column;
  }
  return null;
}

/*
 * OWASP "CSV injection": a spreadsheet program runs a cell that starts with =, +, -, @ (or a tab or
 * carriage return in front of one) as a formula. A CSV cell like that gets a single quote in front,
 * which spreadsheets show as text. A value that already starts with quotes before such a character
 * gets one more, so that the import, which takes exactly one quote off, gives back the original.
 */
const FORMULA_LIKE = /^'*[=+\-@\t\r]/;
const NEUTRALISED = /^'+[=+\-@\t\r]/;

export function neutraliseFormula(text: string): string {
  return FORMULA_LIKE.test(text) ? `'${text}` : text;
}

export function restoreNeutralised(text: string): string {
  return NEUTRALISED.test(text) ? text.slice(1) : text;
}

/** Fen as yuan with two decimals, exactly (no floating point): 1250 → "12.50". */
export function yuanText(fen: number): string {
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Characters no file system or download dialog likes, and control characters. */
export function safeFileName(text: string): string {
  return Array.from(text.replace(/[\\/:*?"<>|\p{Cc}]/gu, '_'))
    .slice(0, 80)
    .join('')
    .trim();
}

/**
 * Wall-clock time in a time zone, as text and as a spreadsheet date. Intl's formatToParts costs
 * as much as writing the whole CSV row (bench/README.md); but a zone's UTC offset only changes at
 * instants that fall on a quarter hour, so it is looked up once per quarter hour of timestamps
 * and the rest is arithmetic.
 */
export function wallClock(timeZone: string): (date: Date) => { text: string; asUtc: Date } {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  const QUARTER_HOUR = 15 * 60_000;
  const offsets = new Map<number, number>();
  const offsetAt = (second: number): number => {
    const bucket = Math.floor(second / QUARTER_HOUR);
    let offset = offsets.get(bucket);
    if (offset === undefined) {
      const p: Record<string, number> = {};
      for (const part of format.formatToParts(second)) if (part.type !== 'literal') p[part.type] = Number(part.value);
      offset = Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0) - second;
      if (offsets.size > 10_000) offsets.clear();
      offsets.set(bucket, offset);
    }
    return offset;
  };
  const pad = (n: number) => String(n).padStart(2, '0');
  return (date) => {
    const second = Math.floor(date.getTime() / 1000) * 1000;
    // Spreadsheet dates have no zone: a Date whose UTC fields are the wall clock shows as that wall clock.
    const asUtc = new Date(second + offsetAt(second));
    const text = `${asUtc.getUTCFullYear()}-${pad(asUtc.getUTCMonth() + 1)}-${pad(asUtc.getUTCDate())} ${pad(asUtc.getUTCHours())}:${pad(asUtc.getUTCMinutes())}:${pad(asUtc.getUTCSeconds())}`;
    return { text, asUtc };
  };
}
