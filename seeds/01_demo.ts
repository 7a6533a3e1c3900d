import type { Knex } from 'knex';
import type { Actor, MemberRole } from '../src/access/access';
import { insertUserWithDefaultDirectory } from '../src/auth/users';
import { insertDirectory } from '../src/directory/directories';
import { recordHistory } from '../src/history/history';

/*
 * A demo shop: its owner with two more warehouses besides `默认`, a few dozen goods and the
 * stock-in/stock-out history that produced their quantities, and a team sharing the `门店`
 * warehouse: a manager, a clerk who did some of the scans, and an accountant who only looks.
 * The openids are `dev-<code>`, so with the development login (no WeChat credentials) the code
 * `demo` logs in as the owner, `demo-clerk` as the clerk, and so on.
 * Re-running replaces the demo users and everything of theirs; nobody else's data is touched.
 */
export const DEMO_OPENID = 'dev-demo';

/** The shared warehouse's team, besides its owner. */
export const DEMO_TEAM: ReadonlyArray<{ openid: string; nickname: string; role: MemberRole }> = [
  { openid: 'dev-demo-manager', nickname: '王店长', role: 'manager' },
  { openid: 'dev-demo-clerk', nickname: '小李', role: 'clerk' },
  { openid: 'dev-demo-accountant', nickname: '陈会计', role: 'viewer' },
];
const SHARED_WAREHOUSE = '门店';

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
    await trx('users')
      .whereIn('openid', [DEMO_OPENID, ...DEMO_TEAM.map((m) => m.openid)])
      .delete();
    const ownerProfile = { nickname: '演示小店', gender: 0 as const, city: 'Shenzhen', province: 'Guangdong', country: 'China' };
    const userId = await insertUserWithDefaultDirectory(trx, { openid: DEMO_OPENID, profile: ownerProfile }, new Date(start));
    const owner: Actor = { id: userId, nickname: ownerProfile.nickname };
    const team: Array<Actor & { role: MemberRole }> = [];
    for (const m of DEMO_TEAM) {
      const id = await insertUserWithDefaultDirectory(trx, { openid: m.openid, profile: { nickname: m.nickname } }, new Date(start));
      team.push({ id, nickname: m.nickname, role: m.role });
    }
    const clerk = team.find((m) => m.role === 'clerk')!;
    // The default warehouse gets a few items too.
    const defaultDir = (await trx('directories').where({ user_id: userId }).first('id', 'name')) as { id: number; name: string };
    const warehouses = [
      { id: defaultDir.id, name: defaultDir.name, shared: false, items: ['测试条码 6901234567892', 'QR: https://example.com/p/1'] },
    ];
    for (const w of WAREHOUSES) {
      const at = tick();
      const id = await insertDirectory(trx, owner, w.name, at);
      const shared = w.name === SHARED_WAREHOUSE;
      if (shared) {
        for (const member of team) {
          const joinedAt = tick();
          await trx('directory_members').insert({ directory_id: id, user_id: member.id, role: member.role, joined_at: joinedAt });
          await recordHistory(trx, {
            actor: member,
            type: 'member.join',
            directoryId: id,
            directoryName: w.name,
            targetUserId: member.id,
            note: member.role,
            createdAt: joinedAt,
          });
        }
      }
      warehouses.push({ id, name: w.name, shared, items: w.items });
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
            // In the shared warehouse the clerk does every other scan.
            actor: w.shared && m % 2 === 1 ? clerk : owner,
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
