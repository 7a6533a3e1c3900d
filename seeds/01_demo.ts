import type { Knex } from 'knex';
import type { Actor, MemberRole } from '../src/access/access';
import { insertUserWithDefaultDirectory } from '../src/auth/users';
import { insertDirectory } from '../src/directory/directories';
import { type NewHistoryEntry, recordHistory, recordHistoryBatch } from '../src/history/history';

/*
 * A demo shop: its owner with two more warehouses besides `默认`, a few dozen goods and the
 * stock-in/stock-out history that produced their quantities, and a team sharing the `门店`
 * warehouse: a manager, a clerk who did some of the scans, and an accountant who only looks.
 * Goods carry units, prices and (some) low-stock thresholds; the history ends with a transfer from
 * `仓库 B` to `门店` and a finished stocktake of `门店` (counted by the clerk, applied by the manager).
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
const UNITS = ['瓶', '罐', '袋', '盒', '个', '包', '把', '件'];

interface SeededGoods {
  id: number;
  directoryId: number;
  directoryName: string;
  code: string;
  name: string;
  remarks: string;
  unit: string;
  price: number;
  quantity: number;
}

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
    const seeded: SeededGoods[] = [];
    for (const w of warehouses) {
      for (const [index, item] of w.items.entries()) {
        barcode += 1 + Math.floor(random() * 997);
        const code = String(barcode);
        const createdAt = tick();
        const unit = UNITS[index % UNITS.length]!;
        // Integer fen: ¥1.00 to ¥49.99.
        const price = 100 + Math.floor(random() * 4900);
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
          unit,
          price,
          // Every third goods has a low-stock threshold.
          min_quantity: index % 3 === 0 ? 5 : null,
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
        seeded.push({ id: goodsId!, directoryId: w.id, directoryName: w.name, code, name: item, remarks: '', unit, price, quantity });
      }
    }

    const shop = warehouses.find((w) => w.shared)!;
    const manager = team.find((m) => m.role === 'manager')!;
    await transfer(trx, seeded, owner, '仓库 B', shop, tick());
    await stocktake(trx, seeded, shop, { clerk, manager }, tick);
  });
}

/** Moves 2 of the first goods of `fromName` that has them into `to`, creating it there, as goods.transfer does. */
async function transfer(
  trx: Knex.Transaction,
  seeded: SeededGoods[],
  actor: Actor,
  fromName: string,
  to: { id: number; name: string },
  at: Date,
): Promise<void> {
  const source = seeded.find((g) => g.directoryName === fromName && g.quantity >= 2)!;
  const moved = 2;
  source.quantity -= moved;
  await trx('goods').where({ id: source.id }).update({ quantity: source.quantity, last_active_at: at });
  const [id] = (await trx('goods').insert({
    user_id: actor.id,
    directory_id: to.id,
    code: source.code,
    name: source.name,
    remarks: source.remarks,
    unit: source.unit,
    price: source.price,
    quantity: moved,
    created_at: at,
    last_active_at: at,
    live: true,
  })) as number[];
  seeded.push({ ...source, id: id!, directoryId: to.id, directoryName: to.name, quantity: moved });
  await trx('directories')
    .whereIn('id', [source.directoryId, to.id])
    .update({ use_count: trx.raw('use_count + 1'), last_active_at: at });
  await recordHistoryBatch(trx, [
    {
      actor,
      type: 'transfer.out',
      directoryId: source.directoryId,
      directoryName: source.directoryName,
      goodsId: source.id,
      goodsName: source.name,
      delta: -moved,
      quantityAfter: source.quantity,
      counterpartDirectoryId: to.id,
      counterpartDirectoryName: to.name,
      createdAt: at,
    },
    {
      actor,
      type: 'transfer.in',
      directoryId: to.id,
      directoryName: to.name,
      goodsId: id!,
      goodsName: source.name,
      delta: moved,
      quantityAfter: moved,
      counterpartDirectoryId: source.directoryId,
      counterpartDirectoryName: source.directoryName,
      createdAt: at,
    },
  ]);
}

/**
 * A finished stocktake of `shop`: the clerk counts every goods, two of them off the books (one
 * missing, two found), and the manager applies it, as stocktake.complete does: one stock.count entry
 * per changed quantity.
 */
async function stocktake(
  trx: Knex.Transaction,
  seeded: SeededGoods[],
  shop: { id: number; name: string },
  people: { clerk: Actor; manager: Actor },
  tick: () => Date,
): Promise<void> {
  const note = '月底盘点';
  const startedAt = tick();
  const [stocktakeId] = (await trx('stocktakes').insert({
    directory_id: shop.id,
    open_directory_id: null,
    status: 'applied',
    note,
    started_by: people.manager.id,
    started_at: startedAt,
  })) as number[];
  const goods = seeded.filter((g) => g.directoryId === shop.id);
  const entries: NewHistoryEntry[] = [];
  const finishedAt = new Date(startedAt.getTime() + 3_600_000);
  for (const [i, g] of goods.entries()) {
    const counted = i === 1 && g.quantity > 0 ? g.quantity - 1 : i === 3 ? g.quantity + 2 : g.quantity;
    const countedAt = new Date(startedAt.getTime() + (i + 1) * 60_000);
    await trx('stocktake_lines').insert({
      stocktake_id: stocktakeId,
      code: g.code,
      counted,
      expected: g.quantity,
      counted_at: countedAt,
      counted_by: people.clerk.id,
    });
    if (counted !== g.quantity) {
      await trx('goods').where({ id: g.id }).update({ quantity: counted, last_active_at: finishedAt });
      entries.push({
        actor: people.manager,
        type: 'stock.count',
        directoryId: shop.id,
        directoryName: shop.name,
        goodsId: g.id,
        goodsName: g.name,
        delta: counted - g.quantity,
        quantityAfter: counted,
        note,
        createdAt: finishedAt,
      });
      g.quantity = counted;
    }
  }
  await recordHistoryBatch(trx, entries);
  await trx('stocktakes')
    .where({ id: stocktakeId })
    .update({ finished_at: finishedAt, line_count: goods.length, counted_count: goods.length });
}
