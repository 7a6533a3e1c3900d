import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Phone, type PhoneLab, rejection, startPhoneLab } from '../client/phone';
import { csvOf, xlsxRows } from './support';

/*
 * downloadExport and uploadImport through the BUILT bundle, in the sandbox that has only `wx`, with
 * wx.downloadFile and wx.uploadFile doing real HTTP against the server.
 */
describe('mini-program bundle: downloadExport and uploadImport', () => {
  let lab: PhoneLab;

  beforeAll(async () => {
    lab = await startPhoneLab();
  });
  afterAll(async () => {
    await lab?.close();
  });

  async function readyPhone(): Promise<Phone & { dirId: number }> {
    const p = await lab.phone();
    const [dir] = await p.client.directory.list.query();
    return { ...p, dirId: dir!.id };
  }

  it('downloads an export into a temporary file without sending the session, and imports it again unchanged', async () => {
    const { client, lib, shim, dirId } = await readyPhone();
    await client.goods.stockIn.mutate({ directoryId: dirId, code: '0012345', name: '前导零', quantity: 3 });
    await client.goods.stockIn.mutate({ directoryId: dirId, code: '6901234567892', name: '矿泉水 🍎', quantity: 2 });

    const file = await lib.downloadExport(client, { kind: 'goods', directoryId: dirId });
    expect(file.filename).toMatch(/^默认-商品-\d{8}\.xlsx$/);
    expect(existsSync(file.tempFilePath)).toBe(true);
    const download = shim.transfers.at(-1)!;
    expect(download.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[A-Za-z0-9_-]{43}\.xlsx$/);
    expect(download.header['X-Session-Token']).toBeUndefined();
    expect(download.statusCode).toBe(200);
    const { rows } = await xlsxRows((await import('node:fs')).readFileSync(file.tempFilePath));
    expect(rows.slice(1).map((r) => r[0])).toEqual(['0012345', '6901234567892']);

    const { importId } = await lib.uploadImport(client, { filePath: file.tempFilePath, directoryId: dirId, filename: file.filename });
    const upload = shim.transfers.at(-1)!;
    expect(upload.header['X-Session-Token']).toBe(shim.storage.get(lib.DEFAULT_TOKEN_KEY));
    const summary = await client.import.get.query({ importId });
    expect(summary).toMatchObject({ filename: file.filename, rowCount: 2, unchangedCount: 2 });
    expect(await client.import.confirm.mutate({ importId })).toEqual({ created: 0, updated: 0, logged: 0 });
  });

  it('logs in again once when the upload is refused with 401, then sends it again', async () => {
    const { client, lib, shim, dirId } = await readyPhone();
    const path = join(tmpdir(), `upload-${Date.now()}.csv`);
    writeFileSync(
      path,
      csvOf([
        ['条码', '数量'],
        ['RELOGIN', 4],
      ]),
    );
    // A token the server does not know: as after the session expired.
    shim.storage.set(lib.DEFAULT_TOKEN_KEY, 'x'.repeat(43));
    const logins = shim.logins;

    const { importId } = await lib.uploadImport(client, { filePath: path, directoryId: dirId });

    expect(shim.logins).toBe(logins + 1);
    expect(shim.transfers.slice(-2).map((r) => r.statusCode)).toEqual([401, 200]);
    const rows = await client.import.rows.query({ importId });
    expect(rows.items).toMatchObject([{ code: 'RELOGIN', quantity: 4, action: 'create' }]);
    expect(shim.logins).toBe(logins + 1);
  });

  it('logs in first when no token is stored, and rejects a refusal with its tRPC code (no second login)', async () => {
    const { client, lib, shim, dirId } = await readyPhone();
    const path = join(tmpdir(), `upload-${Date.now()}-2.csv`);
    writeFileSync(path, csvOf([['code'], ['A']]));
    shim.storage.delete(lib.DEFAULT_TOKEN_KEY);
    const logins = shim.logins;
    const transfers = shim.transfers.length;
    await lib.uploadImport(client, { filePath: path, directoryId: dirId });
    expect(shim.logins).toBe(logins + 1);
    expect(shim.transfers.length).toBe(transfers + 1);

    const other = await readyPhone();
    const err = await rejection(lib.uploadImport(client, { filePath: path, directoryId: other.dirId }));
    expect(lib.isTRPCClientError(err)).toBe(true);
    expect(err.data?.code).toBe('NOT_FOUND');
    expect(err.data?.httpStatus).toBe(404);
    expect(shim.logins).toBe(logins + 1);

    writeFileSync(path, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]));
    const bad = await rejection(lib.uploadImport(client, { filePath: path, directoryId: dirId }));
    expect(bad.data?.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(bad.message).toMatch(/Not a readable spreadsheet/);
  });
});
