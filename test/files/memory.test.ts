import { get } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TestUser, useTestApp } from '../helpers/app';
import { seedGoods } from './support';

/*
 * The export streams: exporting 100,000 goods must not grow the heap of the process serving it by
 * anything like the file's size. The server runs in this process, and the download is read over
 * real HTTP; every half megabyte received, reading pauses, a full GC runs, and the live heap is
 * sampled, so what is measured is what the export keeps alive, not garbage waiting to be collected.
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const GOODS = 100_000;
const LIMIT_BYTES = 50 * 1024 * 1024;
const SAMPLE_EVERY_BYTES = 512 * 1024;

function liveHeap(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

/** Downloads `url`, sampling the live heap along the way; answers the peak growth and the body's size and tail. */
function measuredDownload(url: string): Promise<{ status: number; bytes: number; peakGrowth: number; lines: number; tail: Buffer }> {
  const baseline = liveHeap();
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let bytes = 0;
      let nextSample = SAMPLE_EVERY_BYTES;
      let peak = 0;
      let lines = 0;
      let tail = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (const b of chunk) if (b === 0x0a) lines++;
        tail = Buffer.concat([tail, chunk]).subarray(-64);
        if (bytes >= nextSample) {
          nextSample += SAMPLE_EVERY_BYTES;
          peak = Math.max(peak, liveHeap() - baseline);
        }
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, peakGrowth: peak, lines, tail }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

describe(`exporting ${GOODS.toLocaleString('en')} goods keeps memory flat`, () => {
  let owner: TestUser;
  let dirId: number;
  let base: string;

  const t = useTestApp();
  beforeAll(async () => {
    owner = await t.newUser();
    dirId = (await owner.caller.directory.create({ name: '大仓库' })).id;
    const goods = Array.from({ length: GOODS }, (_, i) => ({
      code: `69${String(i).padStart(11, '0')}`,
      name: `商品 ${i} 🍎`,
      quantity: i % 1000,
      unit: '件',
      price: i,
      minQuantity: i % 7 === 0 ? null : 10,
      remarks: i % 3 === 0 ? '' : `备注 ${i}`,
    }));
    await seedGoods(t, owner, dirId, goods);
    base = await t.listen();
  }, 120_000);

  it('as CSV', { timeout: 120_000 }, async () => {
    const link = await owner.caller.export.create({ kind: 'goods', directoryId: dirId, format: 'csv' });
    const res = await measuredDownload(base + link.url);
    expect(res.status).toBe(200);
    expect(res.lines).toBe(GOODS + 1);
    expect(res.peakGrowth).toBeLessThan(LIMIT_BYTES);
  });

  it('as XLSX', { timeout: 120_000 }, async () => {
    const link = await owner.caller.export.create({ kind: 'goods', directoryId: dirId, format: 'xlsx' });
    const res = await measuredDownload(base + link.url);
    expect(res.status).toBe(200);
    // A complete zip ends with its end-of-central-directory record (22 bytes, no comment).
    expect(res.tail.subarray(-22).readUInt32LE(0)).toBe(0x06054b50);
    expect(res.bytes).toBeGreaterThan(1024 * 1024);
    expect(res.peakGrowth).toBeLessThan(LIMIT_BYTES);
    console.log(`xlsx: ${(res.bytes / 1e6).toFixed(1)} MB, peak live heap growth ${(res.peakGrowth / 1e6).toFixed(1)} MB`);
  });

  it('a phone that goes away mid-download leaves no database connection held and the server answering', { timeout: 60_000 }, async () => {
    const link = await owner.caller.export.create({ kind: 'goods', directoryId: dirId, format: 'csv' });
    await new Promise<void>((resolve, reject) => {
      const req = get(base + link.url, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => {
        if (!req.destroyed) reject(err);
      });
    });
    const pool = (t.db.client as { pool: { numUsed(): number; numPendingAcquires(): number } }).pool;
    const deadline = Date.now() + 10_000;
    while (pool.numUsed() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pool.numUsed()).toBe(0);
    expect(pool.numPendingAcquires()).toBe(0);
    // And the server goes on answering.
    expect((await owner.caller.goods.list({ directoryId: dirId, limit: 1 })).items).toHaveLength(1);
  });
});
