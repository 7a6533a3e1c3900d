import { z } from 'zod';

/*
 * Input fields shared by the directory, goods and log routers.
 *
 * Lengths are counted in Unicode code points, as MySQL counts VARCHAR characters under utf8mb4:
 * zod's own .max() counts UTF-16 units, which would refuse 60 emoji in a 100-character name that
 * the column accepts. SQLite enforces no length at all, so this is the only gate on both.
 */

/** Number of Unicode code points (an emoji is one, not two UTF-16 units). */
export function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** The first `n` code points of `s`, never splitting a surrogate pair. */
export function firstCodePoints(s: string, n: number): string {
  return Array.from(s).slice(0, n).join('');
}

// A lone surrogate cannot be stored as utf8mb4: it would come back as something else.
const LONE_SURROGATE = /\p{Surrogate}/u;

/** A trimmed string of `min`..`max` code points; whitespace-only counts as empty. */
export function boundedText(min: number, max: number) {
  return z
    .string()
    .trim()
    .refine((v) => codePointLength(v) >= min, {
      message: min === 1 ? 'Must not be empty' : `Must be at least ${min} characters`,
      abort: true,
    })
    .refine((v) => codePointLength(v) <= max, { message: `Must be at most ${max} characters`, abort: true })
    .refine((v) => !LONE_SURROGATE.test(v), { message: 'Must be valid Unicode text' });
}

export const id = z.number().int().positive().max(2_147_483_647);
export const directoryName = boundedText(1, 100);
export const goodsName = boundedText(1, 100);
export const remarks = boundedText(0, 1000);
export const code = boundedText(1, 255);
export const MAX_STOCK_DELTA = 1_000_000;
/** A goods' unit (个, 箱, kg…); '' for none. */
export const unit = boundedText(0, 10);
/** Fen (1/100 yuan): integers, never floats. */
export const price = z.number().int().min(0).max(100_000_000);
/** The low-stock threshold. */
export const minQuantity = z.number().int().min(0).max(1_000_000);
export const quantity = z.number().int().min(1).max(MAX_STOCK_DELTA).default(1);
export const requestId = z
  .string()
  .min(1)
  .max(64)
  .refine((v) => !LONE_SURROGATE.test(v), { message: 'Must be valid Unicode text' });

/** `{ cursor?, limit? }` of every list (API.md "Lists"); null cursor = first page, as tRPC infinite queries send. */
export const pageInput = {
  cursor: z.string().max(64).nullish(),
  limit: z.number().int().min(1).max(100).default(20),
};

/** A time zone Intl knows, e.g. Asia/Shanghai. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** An IANA time zone name, as the report and the exports take it. */
export const timeZone = z.string().max(64).refine(isTimeZone, { message: 'Must be an IANA time zone such as Asia/Shanghai' });
