import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, mysqlConnectionFromUrl } from '../../src/db/knex';
import { createTestApp, type TestApp, type TestUser } from '../helpers/app';
import { createTestDb, testDbKind, type TestDb } from '../helpers/db';
import { call, sessionHeaders, trpcData, trpcError } from './support/http';

/*
 * A COMMIT whose connection dies: the server may have committed or not, and the client cannot
 * know. Seen on Galera when the node in use is killed (shared/notes), reproduced here with a TCP
 * proxy between the app and MariaDB that cuts the connection right at a COMMIT, either after
 * passing it on (it commits, the answer is lost) or before (nothing commits). Either way the
 * call answers SERVICE_UNAVAILABLE without redoing the change in process, and the client's retry
 * with the same requestId ends with the change applied exactly once.
 */

type Cut = 'after-commit' | 'before-commit';

/** COM_QUERY (0x03) carrying exactly "COMMIT": the packet src/db/tx.ts sends to end a transaction. */
function isCommitPacket(chunk: Buffer): boolean {
  const at = chunk.indexOf('COMMIT');
  return at >= 5 && chunk[at - 1] === 0x03 && chunk.readUIntLE(at - 5, 3) === 7;
}

interface CuttingProxy {
  port: number;
  arm(cut: Cut): void;
  cuts: number;
  close(): Promise<void>;
}

async function startCuttingProxy(target: { host: string; port: number }): Promise<CuttingProxy> {
  const sockets = new Set<Socket>();
  let armed: Cut | null = null;
  const proxy: CuttingProxy = {
    port: 0,
    cuts: 0,
    arm(cut) {
      armed = cut;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection(target);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', () => setTimeout(drop, 300));
    upstream.on('error', drop).on('close', drop);
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('data', (chunk) => {
      const cut = armed && isCommitPacket(chunk) ? armed : null;
      if (!cut) {
        upstream.write(chunk);
        return;
      }
      armed = null;
      proxy.cuts++;
      if (cut === 'after-commit') upstream.write(chunk);
      // The app's side goes at once, so its answer is lost; the server's side a little later, so
      // that a COMMIT passed on is executed rather than raced by the disconnect.
      client.destroy();
      setTimeout(() => upstream.destroy(), 300);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as AddressInfo).port;
  return proxy;
}

describe.skipIf(testDbKind() !== 'mysql')('a COMMIT whose connection dies (outcome unknown)', () => {
  let direct: TestDb;
  let proxy: CuttingProxy;
  let t: TestApp;
  let base: string;
  let user: TestUser;
  let directoryId: number;

  beforeAll(async () => {
    direct = await createTestDb();
    const target = mysqlConnectionFromUrl(direct.url!);
    proxy = await startCuttingProxy({ host: target.host, port: target.port });
    const u = new URL(direct.url!);
    u.port = String(proxy.port);
    const db = createDb({ url: u.toString(), poolMax: 4 });
    t = await createTestApp({ tdb: { kind: 'mysql', db, url: u.toString(), destroy: () => db.destroy() } });
    base = await t.listen();
    user = await t.newUser();
    const [home] = await user.caller.directory.list();
    directoryId = home!.id;
  });
  afterAll(async () => {
    await t?.close();
    await t?.tdb.destroy();
    await proxy?.close();
    await direct?.destroy();
  });

  const stockIn = (code: string, requestId?: string) =>
    call(
      base,
      'mutation',
      'goods.stockIn',
      { directoryId, code, quantity: 5, ...(requestId ? { requestId } : {}) },
      sessionHeaders(user.token),
    );
  const quantityOf = async (code: string) => (await direct.db('goods').where({ code }).first())?.quantity as number | undefined;
  const historyOf = async (code: string) => {
    const goods = await direct.db('goods').where({ code }).first();
    const [row] = await direct.db('logs').where({ type: 'stock.in', goods_id: goods.id }).count({ n: '*' });
    return Number(row!.n);
  };

  for (const cut of ['after-commit', 'before-commit'] as const) {
    it(`cut ${cut}: SERVICE_UNAVAILABLE, not redone; the retry with the same requestId applies it once`, async () => {
      const code = `CUT-${cut}`;
      expect((await stockIn(code, `${cut}-0`)).status).toBe(200);
      const logsBefore = await historyOf(code);

      proxy.arm(cut);
      const lost = await stockIn(code, `${cut}-1`);
      expect(proxy.cuts).toBeGreaterThan(0);
      expect(lost.status).toBe(503);
      expect(trpcError(lost).data.code).toBe('SERVICE_UNAVAILABLE');
      expect(trpcError(lost).message).toMatch(/same requestId/);
      // Committed or not, as the cut says; never twice.
      expect(await quantityOf(code)).toBe(cut === 'after-commit' ? 10 : 5);

      const retried = await stockIn(code, `${cut}-1`);
      expect(retried.status).toBe(200);
      expect(trpcData<{ goods: { quantity: number } }>(retried).goods.quantity).toBe(10);
      expect(await quantityOf(code)).toBe(10);
      expect((await historyOf(code)) - logsBefore).toBe(1);
    });
  }
});
