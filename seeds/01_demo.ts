import type { Knex } from 'knex';
import { insertUserWithDefaultDirectory } from '../src/auth/users';
import { recordHistory } from '../src/history/history';

/*
 * A demo shop: one user with two more warehouses besides `默认`, a few dozen goods and the
 * stock-in/stock-out history that produced their quantities. The openid is `dev-demo`, so with the
 * development login (no WeChat credentials) the code `demo` logs in as this user.
 * Re-running replaces the demo user and everything of theirs; nobody else's data is touched.
 */
export const DEMO_OPENID = 'dev-demo';

const WAREHOUSES = [
  { name: '门店', items: ['矿泉水 550ml', '可乐 330ml', '薯片 原味', '方便面 红烧牛肉', '口香糖', '纸巾 三层', '电池 AA', '雨伞'] },
  { name: '仓库 B', items: ['A4 纸 500张', '订书机', '签字笔 黑', '文件夹', '胶带', '剪刀', '便利贴', '计算器', '白板笔', '回形针'] },
];

/** A small deterministic generator, so every run seeds the same figures. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

export async function seed(knex: Knex): Promise<void> {
  const random = lcg(42);
  const start = Date.UTC(2026, 10, 1, 8, 0, 0);
  let clock = start;
  const tick = () => {
    clock += 60_000 + Math.floor(random() * 3_600_000);
    return new Date(clock);
  };

  await knex.transaction(async (trx) => {
    await trx('users').where({ openid: DEMO_OPENID }).delete();
    const userId = await insertUserWithDefaultDirectory(
      trx,
      { openid: DEMO_OPENID, profile: { nickname: '演示小店', gender: 0, city: 'Shenzhen', province: 'Guangdong', country: 'China' } },
      new Date(start),
    );
    // The default warehouse gets a few items too.
    const defaultDir = (await trx('directories').where({ user_id: userId }).first('id', 'name')) as { id: number; name: string };
    const warehouses = [{ id: defaultDir.id, name: defaultDir.name, items: ['测试条码 6901234567892', 'QR: https://example.com/p/1'] }];
    for (const w of WAREHOUSES) {
      const at = tick();
      const [id] = (await trx('directories').insert({
        user_id: userId,
        name: w.name,
        use_count: 0,
        created_at: at,
        last_active_at: at,
        live: true,
      })) as number[];
      await recordHistory(trx, { userId, type: 'directory.create', directoryId: id, directoryName: w.name, createdAt: at });
      warehouses.push({ id: id as number, name: w.name, items: w.items });
    }

    let barcode = 6_920_000_000_000;
    for (const w of warehouses) {
      for (const item of w.items) {
        barcode += 1 + Math.floor(random() * 997);
        const code = String(barcode);
        const createdAt = tick();
        const [goodsId] = (await trx('goods').insert({
          user_id: userId,
          directory_id: w.id,
          code,
          name: item.slice(0, 100),
          remarks: '',
          quantity: 0,
          created_at: createdAt,
          last_active_at: createdAt,
          live: true,
        })) as number[];
        let quantity = 0;
        let uses = 0;
        const moves = 1 + Math.floor(random() * 4);
        for (let m = 0; m < moves; m++) {
          const at = tick();
          const stockIn = m === 0 || random() < 0.6 || quantity === 0;
          const delta = stockIn ? 1 + Math.floor(random() * 24) : -(1 + Math.floor(random() * quantity));
          quantity += delta;
          uses += 1;
          await trx('goods').where({ id: goodsId }).update({ quantity, last_active_at: at });
          await recordHistory(trx, {
            userId,
            type: stockIn ? 'stock.in' : 'stock.out',
            directoryId: w.id,
            directoryName: w.name,
            goodsId: goodsId ?? null,
            goodsName: item,
            delta,
            quantityAfter: quantity,
            createdAt: at,
          });
        }
        await trx('directories')
          .where({ id: w.id })
          .update({ use_count: trx.raw('use_count + ?', [uses]), last_active_at: new Date(clock) });
      }
    }
  });
}
