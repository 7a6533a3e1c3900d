import type { MemberRole } from '../../src/access/access';
import type { TestApp, TestUser } from '../helpers/app';

/** Makes `user` a member of the warehouse with `role`, as an accepted invitation would. */
export async function addMember(t: TestApp, directoryId: number, user: TestUser, role: MemberRole): Promise<void> {
  await t.db('directory_members').insert({ directory_id: directoryId, user_id: user.userId, role, joined_at: t.now() });
}

/** The goods, warehouses, history, stocktakes and request records: what a refused call must not change. */
export async function inventorySnapshot(t: TestApp): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of ['directories', 'goods', 'logs', 'stocktakes', 'stocktake_lines']) {
    out[table] = await t.db(table).select('*').orderBy('id');
  }
  return out;
}

/** Settles every promise and sorts the outcomes: values, and error codes counted. */
export async function settle<T>(promises: Promise<T>[]): Promise<{ ok: T[]; errors: Record<string, number> }> {
  const results = await Promise.allSettled(promises);
  const ok: T[] = [];
  const errors: Record<string, number> = {};
  for (const r of results) {
    if (r.status === 'fulfilled') ok.push(r.value);
    else {
      const reason = r.reason as { code?: string; message?: string };
      const key = reason.code ?? String(reason.message ?? reason);
      errors[key] = (errors[key] ?? 0) + 1;
    }
  }
  return { ok, errors };
}
