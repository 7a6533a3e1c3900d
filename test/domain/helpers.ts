import { TRPCError } from '@trpc/server';
import { expect } from 'vitest';
import { ZodError } from 'zod';
import type { Db } from '../../src/db/knex';

/** Awaits a call that must fail with this tRPC code; returns the error for further checks. */
export async function expectTRPCError(promise: Promise<unknown>, code: TRPCError['code']): Promise<TRPCError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  expect(error, `expected ${code}, but the call succeeded`).toBeInstanceOf(TRPCError);
  expect((error as TRPCError).code).toBe(code);
  return error as TRPCError;
}

/** A BAD_REQUEST from input validation, and the input fields it names. */
export async function expectInvalid(promise: Promise<unknown>, ...fields: string[]): Promise<void> {
  const err = await expectTRPCError(promise, 'BAD_REQUEST');
  expect(err.cause).toBeInstanceOf(ZodError);
  const paths = (err.cause as ZodError).issues.map((i) => i.path.join('.'));
  for (const f of fields) expect(paths).toContain(f);
}

/** Every row of the tables this feature writes, for "nothing changed" comparisons. */
export async function snapshot(db: Db): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of ['users', 'directories', 'goods', 'logs', 'request_results']) {
    out[table] = await db(table).select('*').orderBy('id');
  }
  return out;
}

export async function countRows(db: Db, table: string, where: Record<string, unknown> = {}): Promise<number> {
  const row = (await db(table).where(where).count({ n: '*' }).first()) as { n: number | string } | undefined;
  return Number(row?.n ?? 0);
}
