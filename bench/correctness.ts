import type { Db } from '../src/db/knex';
import { startLoad, type LoadRequest, type Measurement } from './load';
import { hotRequests, nextRequestId, stockInRequests } from './requests';
import type { BenchUser, HotFixture } from './seed';

/*
 * Row 5: one goods hammered by concurrent stock-outs (more than it holds) and stock-ins from many
 * sessions of its owner, while row 2's stock-in load runs on everybody else's goods. Afterwards the
 * database must tell the same story as the responses: every 200 applied exactly once, every
 * PRECONDITION_FAILED applied nothing, and the log replays to the final quantity step by step.
 * Then every requestId of a batch of stock-ins is sent twice at once: each must apply once.
 */

export interface CorrectnessResult {
  outs: Measurement;
  ins: Measurement;
  background: Measurement;
  okOuts: number;
  okIns: number;
  preconditionFailed: number;
  /** Error responses other than PRECONDITION_FAILED on stock-out, by tRPC code, plus socket errors. */
  unexpected: Record<string, number>;
  start: number;
  final: number;
  expectedFinal: number;
  outLogs: number;
  inLogs: number;
  useCount: number;
  /** Log rows whose quantity_after does not follow from the previous row and its delta. */
  brokenChain: number;
  retries: { sent: number; applied: number; expected: number; non200: number; mismatchedReplies: number };
  /** InnoDB deadlocks during the run (server-wide counter: other clients' count too). */
  deadlocks: number | null;
  /** Human-readable reasons; empty when everything adds up. */
  lostUpdates: string[];
}

async function innodbDeadlocks(db: Db): Promise<number | null> {
  try {
    const [rows] = (await db.raw("SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")) as unknown as [Array<{ Value: string }>];
    return rows[0] ? Number(rows[0].Value) : null;
  } catch {
    return null;
  }
}

function trpcErrorCode(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { json?: { data?: { code?: string } } } };
    return parsed.error?.json?.data?.code ?? 'UNPARSEABLE';
  } catch {
    return 'UNPARSEABLE';
  }
}

function tally(into: Record<string, number>, key: string, n = 1): void {
  into[key] = (into[key] ?? 0) + n;
}

interface HotLogRow {
  id: number;
  type: string;
  delta: number | null;
  quantity_after: number | null;
}

export async function runCorrectness(opts: {
  db: Db;
  baseUrl: string;
  hot: HotFixture;
  users: BenchUser[];
  connections: number;
  retries: number;
  outs: number;
  ins: number;
}): Promise<CorrectnessResult> {
  const { db, hot } = opts;
  const outCodes: Record<string, number> = {};
  const inCodes: Record<string, number> = {};
  const outConns = Math.max(2, Math.floor(opts.connections / 2));
  const inConns = Math.max(1, Math.floor(opts.connections / 4));
  const bgConns = Math.max(1, opts.connections - outConns - inConns);

  const deadlocksBefore = await innodbDeadlocks(db);
  const background = startLoad({
    label: 'row-2 load (stockIn, other users)',
    url: opts.baseUrl,
    connections: bgConns,
    duration: 600,
    next: stockInRequests(opts.users, '/trpc', true),
  });
  const outs = startLoad({
    label: 'stockOut (contended goods)',
    url: opts.baseUrl,
    connections: outConns,
    amount: opts.outs,
    next: hotRequests(hot, 'stockOut'),
    onResponse: (status, body) => tally(outCodes, status === 200 ? 'OK' : trpcErrorCode(body)),
  });
  const ins = startLoad({
    label: 'stockIn (contended goods)',
    url: opts.baseUrl,
    connections: inConns,
    amount: opts.ins,
    next: hotRequests(hot, 'stockIn'),
    onResponse: (status, body) => tally(inCodes, status === 200 ? 'OK' : trpcErrorCode(body)),
  });
  const [outM, inM] = await Promise.all([outs.result, ins.result]);
  background.stop();
  const bgM = await background.result;
  const deadlocksAfter = await innodbDeadlocks(db);

  const okOuts = outCodes.OK ?? 0;
  const okIns = inCodes.OK ?? 0;
  const preconditionFailed = outCodes.PRECONDITION_FAILED ?? 0;
  const unexpected: Record<string, number> = {};
  for (const [code, n] of Object.entries(outCodes))
    if (code !== 'OK' && code !== 'PRECONDITION_FAILED') tally(unexpected, `stockOut ${code}`, n);
  for (const [code, n] of Object.entries(inCodes)) if (code !== 'OK') tally(unexpected, `stockIn ${code}`, n);
  for (const m of [outM, inM, bgM]) {
    if (m.errors) tally(unexpected, `${m.label}: socket errors`, m.errors);
    if (m.timeouts) tally(unexpected, `${m.label}: timeouts`, m.timeouts);
  }
  for (const [status, n] of Object.entries(bgM.statuses)) if (status !== '200') tally(unexpected, `row-2 load HTTP ${status}`, n);

  const lostUpdates: string[] = [];
  const logs = (await db('logs')
    .select('id', 'type', 'delta', 'quantity_after')
    .where({ goods_id: hot.goodsId })
    .orderBy('id', 'asc')) as HotLogRow[];
  const outLogs = logs.filter((l) => l.type === 'stock.out').length;
  const inLogs = logs.filter((l) => l.type === 'stock.in').length;
  // Rows are written under the goods row lock, so id order is the order the changes applied in.
  let q = hot.start;
  let brokenChain = 0;
  for (const l of logs) {
    const step = Math.abs(Number(l.delta ?? 0));
    q += l.type === 'stock.out' ? -step : step;
    if (Number(l.quantity_after) !== q) {
      brokenChain++;
      q = Number(l.quantity_after);
    }
  }
  const goods = (await db('goods').select('quantity').where({ id: hot.goodsId }).first()) as { quantity: number };
  const dir = (await db('directories').select('use_count').where({ id: hot.directoryId }).first()) as { use_count: number };
  const final = Number(goods.quantity);
  const useCount = Number(dir.use_count);
  const expectedFinal = hot.start + okIns - okOuts;

  if (final !== expectedFinal)
    lostUpdates.push(`final quantity ${final}, expected ${hot.start} + ${okIns} in − ${okOuts} out = ${expectedFinal}`);
  if (outLogs !== okOuts) lostUpdates.push(`${outLogs} stock.out log rows for ${okOuts} successful stock-outs`);
  if (inLogs !== okIns) lostUpdates.push(`${inLogs} stock.in log rows for ${okIns} successful stock-ins`);
  if (brokenChain > 0) lostUpdates.push(`${brokenChain} log rows whose quantityAfter does not follow from the previous one`);
  if (q !== final) lostUpdates.push(`the log replays to ${q}, the goods row holds ${final}`);
  if (useCount !== okIns + okOuts) lostUpdates.push(`directory useCount ${useCount}, expected ${okIns + okOuts} (one per applied change)`);

  // Retries: each requestId twice, concurrently, as a flaky network resends a scan.
  const retryBodies: LoadRequest[] = Array.from({ length: opts.retries }, () => hotRequests(hot, 'stockIn')()).map((r) => ({
    ...r,
    body: JSON.stringify({ json: { directoryId: hot.directoryId, code: hot.code, quantity: 1, requestId: nextRequestId() } }),
  }));
  const replies = await Promise.all(
    retryBodies.flatMap((r) =>
      [0, 1].map(async () => {
        const res = await fetch(opts.baseUrl + r.path, { method: 'POST', headers: r.headers, body: r.body });
        return { status: res.status, body: await res.text() };
      }),
    ),
  );
  let non200 = 0;
  let mismatchedReplies = 0;
  let okRetried = 0;
  for (let i = 0; i < replies.length; i += 2) {
    const a = replies[i]!;
    const b = replies[i + 1]!;
    if (a.status !== 200) non200++;
    if (b.status !== 200) non200++;
    if (a.status === 200 || b.status === 200) okRetried++;
    if (a.status === 200 && b.status === 200 && a.body !== b.body) mismatchedReplies++;
  }
  const after = (await db('goods').select('quantity').where({ id: hot.goodsId }).first()) as { quantity: number };
  const applied = Number(after.quantity) - final;
  if (applied !== okRetried) {
    lostUpdates.push(
      `${opts.retries} requestIds sent twice each (${okRetried} answered 200) added ${applied} units, expected ${okRetried}`,
    );
  }
  if (mismatchedReplies > 0) lostUpdates.push(`${mismatchedReplies} retried requestIds got two different answers`);
  if (non200 > 0) tally(unexpected, 'retried stockIn non-200', non200);

  return {
    outs: outM,
    ins: inM,
    background: bgM,
    okOuts,
    okIns,
    preconditionFailed,
    unexpected,
    start: hot.start,
    final,
    expectedFinal,
    outLogs,
    inLogs,
    useCount,
    brokenChain,
    retries: { sent: replies.length, applied, expected: okRetried, non200, mismatchedReplies },
    deadlocks: deadlocksBefore !== null && deadlocksAfter !== null ? deadlocksAfter - deadlocksBefore : null,
    lostUpdates,
  };
}
