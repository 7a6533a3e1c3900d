import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { appRouter } from '../../src/routers/_app';
import { useTestApp } from '../helpers/app';
import { startFakeWechat, type FakeWechat } from '../helpers/fake-wechat';
import { anyWire, badTokens, invalidWire, validWire, type ProcedureSpec, type Wire } from './support/fuzz';
import { expectUnchanged, getCall, postCall, send, sessionHeaders, snapshot, trpcError, type WireResponse } from './support/http';

/*
 * Every procedure, over real HTTP, with generated bad input. Each response must be a well-formed
 * tRPC error with the expected 4xx (never a 500), the server must keep answering, and the database
 * must be exactly as before.
 */

const RUNS = 60;
const text = (name: string, min: number, max: number, required = false) => ({ name, kind: 'text' as const, min, max, required });
const id = (name: string, required = true) => ({ name, kind: 'id' as const, required });
const page = [
  { name: 'cursor', kind: 'cursor' as const },
  { name: 'limit', kind: 'limit' as const },
];
const profileText = (name: string) => ({ name, kind: 'text' as const, min: 0, max: 100, nullable: true });
const int = (name: string, min: number, max: number, opts: { required?: boolean; nullable?: boolean } = {}) => ({
  name,
  kind: 'int' as const,
  min,
  max,
  ...opts,
});
const oneOf = (name: string, values: readonly string[], required = false) => ({ name, kind: 'enum' as const, values, required });
const roles = ['manager', 'clerk', 'viewer'] as const;

/** Every procedure's input, as API.md describes it. */
const SPECS: Record<string, ProcedureSpec> = {
  'auth.login': {
    fields: [
      { name: 'code', kind: 'loginCode', required: true },
      { name: 'encryptedData', kind: 'base64', max: 16_384 },
      { name: 'iv', kind: 'base64', max: 64 },
    ],
    pairs: [['encryptedData', 'iv']],
    // The fake WeChat knows none of these codes: 40029 → UNAUTHORIZED, and no user is created.
    foreign: [401],
  },
  'auth.me': { fields: [] },
  'auth.updateProfile': {
    fields: [
      profileText('nickname'),
      { name: 'avatarUrl', kind: 'avatarUrl', nullable: true },
      { name: 'gender', kind: 'gender' },
      profileText('city'),
      profileText('province'),
      profileText('country'),
    ],
  },
  'auth.logout': { fields: [] },
  'directory.list': { fields: [] },
  'directory.get': { fields: [id('id')], foreign: [404] },
  'directory.create': { fields: [text('name', 1, 100, true)] },
  'directory.rename': { fields: [id('id'), text('name', 1, 100, true)], foreign: [404] },
  'directory.delete': { fields: [id('id')], foreign: [404] },
  'goods.scan': { fields: [id('directoryId'), text('code', 1, 255, true)], foreign: [404] },
  'goods.stockIn': {
    fields: [
      id('directoryId'),
      text('code', 1, 255, true),
      text('name', 0, 100),
      text('remarks', 0, 1000),
      text('unit', 0, 10),
      int('price', 0, 100_000_000),
      { name: 'quantity', kind: 'quantity' },
      { name: 'requestId', kind: 'requestId' },
    ],
    // CONFLICT: the generator may reuse a requestId with other input, which is refused as such.
    foreign: [404, 409],
  },
  'goods.stockOut': {
    fields: [
      id('directoryId'),
      text('code', 1, 255, true),
      { name: 'quantity', kind: 'quantity' },
      { name: 'requestId', kind: 'requestId' },
    ],
    foreign: [404, 409],
  },
  'goods.list': { fields: [id('directoryId'), text('search', 0, 255), { name: 'lowStock', kind: 'bool' }, ...page], foreign: [404] },
  'goods.get': { fields: [id('id')], foreign: [404] },
  'goods.update': {
    fields: [
      id('id'),
      text('name', 1, 100),
      text('remarks', 0, 1000),
      text('code', 1, 255),
      { ...text('unit', 0, 10), nullable: true },
      int('price', 0, 100_000_000, { nullable: true }),
      int('minQuantity', 0, 1_000_000, { nullable: true }),
    ],
    needsOneOf: ['name', 'remarks', 'code', 'unit', 'price', 'minQuantity'],
    foreign: [404],
  },
  'goods.adjust': {
    fields: [
      id('id'),
      int('quantity', 0, 2_147_483_647, { required: true }),
      text('reason', 1, 200, true),
      { name: 'requestId', kind: 'requestId' },
    ],
    foreign: [404, 409],
  },
  'goods.transfer': {
    fields: [
      id('fromDirectoryId'),
      id('toDirectoryId'),
      text('code', 1, 255, true),
      { name: 'quantity', kind: 'quantity' },
      { name: 'requestId', kind: 'requestId' },
    ],
    // BAD_REQUEST: the two ids may come out equal, which is refused as such.
    foreign: [400, 404, 409],
  },
  'goods.lowStock': { fields: [...page] },
  'directory.members': { fields: [id('directoryId')], foreign: [404] },
  'directory.setRole': { fields: [id('directoryId'), id('userId'), oneOf('role', roles, true)], foreign: [404] },
  'directory.removeMember': { fields: [id('directoryId'), id('userId')], foreign: [404] },
  'directory.leave': { fields: [id('directoryId')], foreign: [404] },
  'directory.transferOwnership': { fields: [id('directoryId'), id('userId')], foreign: [404] },
  'invite.create': {
    fields: [id('directoryId'), oneOf('role', roles, true), int('maxUses', 1, 100), int('expiresInHours', 1, 168)],
    foreign: [404],
  },
  'invite.list': { fields: [id('directoryId')], foreign: [404] },
  'invite.revoke': { fields: [id('id')], foreign: [404] },
  // Unknown tokens are simply unknown invitations.
  'invite.preview': { fields: [text('token', 1, 128, true)], foreign: [404] },
  'invite.accept': { fields: [text('token', 1, 128, true)], foreign: [404] },
  'stocktake.start': { fields: [id('directoryId'), text('note', 0, 200)], foreign: [404] },
  'stocktake.count': {
    fields: [
      id('stocktakeId'),
      text('code', 1, 255, true),
      int('quantity', 0, 1_000_000),
      oneOf('mode', ['add', 'set']),
      { name: 'requestId', kind: 'requestId' },
    ],
    foreign: [404, 409],
  },
  'stocktake.get': { fields: [id('id')], foreign: [404] },
  'stocktake.list': { fields: [id('directoryId'), ...page], foreign: [404] },
  'stocktake.lines': { fields: [id('id'), oneOf('filter', ['all', 'counted', 'uncounted', 'different']), ...page], foreign: [404] },
  'stocktake.complete': {
    fields: [id('id'), oneOf('uncounted', ['keep', 'zero']), { name: 'requestId', kind: 'requestId' }],
    foreign: [404, 409],
  },
  'stocktake.cancel': { fields: [id('id')], foreign: [404] },
  // Without directoryId: the fuzzing user's own (empty) report; dates in any order: to before from is refused.
  'report.daily': {
    fields: [
      id('directoryId', false),
      { name: 'from', kind: 'date', required: true },
      { name: 'to', kind: 'date', required: true },
      { name: 'timeZone', kind: 'timeZone' },
    ],
    foreign: [200, 400, 404],
  },
  'goods.delete': { fields: [id('id')], foreign: [404] },
  // A link to the caller's own history (200; nothing of the warehouse tables changes), another
  // user's warehouse or stocktake (404), or a combination the rules refuse (400: goods without a
  // warehouse, from after to).
  'export.create': {
    fields: [
      { name: 'kind', kind: 'enum', values: ['goods', 'log', 'stocktake'], required: true },
      id('directoryId', false),
      id('stocktakeId', false),
      { name: 'from', kind: 'date' },
      { name: 'to', kind: 'date' },
      { name: 'format', kind: 'enum', values: ['xlsx', 'csv'] },
      { name: 'timeZone', kind: 'timeZone' },
    ],
    foreign: [200, 400, 404],
  },
  'import.get': { fields: [id('importId')], foreign: [404] },
  'import.rows': {
    fields: [id('importId'), { name: 'action', kind: 'enum', values: ['create', 'update', 'unchanged', 'error'] }, ...page],
    foreign: [404],
  },
  'import.confirm': {
    fields: [id('importId'), { name: 'quantityMode', kind: 'enum', values: ['set', 'add'] }, { name: 'requestId', kind: 'requestId' }],
    foreign: [404, 409],
  },
  // Filters on the caller's own history: another user's ids simply match nothing.
  'log.list': {
    fields: [id('directoryId', false), id('goodsId', false), { name: 'type', kind: 'logType' }, id('actorId', false), ...page],
    foreign: [200],
  },
};

const procedures = Object.entries(
  appRouter._def.procedures as unknown as Record<string, { _def: { type: string; inputs: unknown[] } }>,
).map(([path, p]) => ({
  path,
  type: p._def.type as 'query' | 'mutation',
  hasInput: p._def.inputs.length > 0,
  isPublic: path === 'auth.login',
}));

type Mode = 'badSession' | 'invalid' | 'foreign' | 'read';
interface Case extends Wire {
  mode: Mode;
  token: string | null;
}

/** Counterexamples print short: a 60,000-character string would drown the report. */
function describable(c: Case): Case {
  const wire = c.raw ?? JSON.stringify(c.wire) ?? 'undefined';
  const summary = `${c.mode} / ${c.label} / token ${c.token === null ? 'none' : JSON.stringify(c.token.slice(0, 50))} / ${wire.length} chars: ${wire.slice(0, 400)}`;
  return Object.assign(c, { [fc.toStringMethod]: () => summary });
}

describe('fuzz: every procedure over HTTP', () => {
  let wechat: FakeWechat;
  const t = useTestApp(async (onClose) => {
    wechat = await startFakeWechat();
    onClose(() => wechat.close());
    return { wechat, env: { RATE_LIMIT_MAX: '10000000', LOGIN_RATE_LIMIT_MAX: '1000000', LOG_LEVEL: 'warn' } };
  });
  let base: string;
  let token: string;
  /** Ids the fuzzing user does not own: another user's objects, its own deleted directory, nonexistent. */
  let foreignIds: number[];
  let revokedTokens: string[];

  beforeAll(async () => {
    base = await t.listen();

    const victim = await t.newUser();
    const [home] = await victim.caller.directory.list();
    const other = await victim.caller.directory.create({ name: '仓库 B' });
    const { goods } = await victim.caller.goods.stockIn({ directoryId: other.id, code: 'VICTIM-1', quantity: 5 });
    const { goods: gone } = await victim.caller.goods.stockIn({ directoryId: home!.id, code: 'VICTIM-2' });
    await victim.caller.goods.delete({ id: gone.id });

    const fuzzer = await t.newUser();
    token = fuzzer.token;
    // The fuzzing user owns nothing live, so no valid-shaped call of theirs can change anything.
    const [own] = await fuzzer.caller.directory.list();
    await fuzzer.caller.directory.delete({ id: own!.id });

    const loggedOut = await t.newUser();
    await loggedOut.caller.auth.logout();
    revokedTokens = [loggedOut.token];
    // A stocktake of someone else's, for the stocktake procedures' foreign ids to hit.
    const stocktake = await victim.caller.stocktake.start({ directoryId: other.id });
    await victim.caller.stocktake.count({ stocktakeId: stocktake.id, code: 'VICTIM-1' });
    foreignIds = [home!.id, other.id, goods.id, gone.id, own!.id, stocktake.id, victim.userId, 1, 2, 3, 2_000_000_000, 2_147_483_647];
  });

  it('has a fuzz spec for every procedure of the router', () => {
    expect(procedures.map((p) => p.path).sort()).toEqual(Object.keys(SPECS).sort());
    expect(procedures).toHaveLength(Object.keys(SPECS).length);
  });

  function casesFor(p: (typeof procedures)[number]): fc.Arbitrary<Case> {
    const spec = SPECS[p.path];
    if (!spec) throw new Error(`no fuzz spec for ${p.path}`);
    // A query travels in the URL, which Node caps at 16 KB of headers: keep its strings smaller.
    // A mutation's body stays under the 1 MB bodyLimit (a 字 is 3 bytes, an escaped lone surrogate 6).
    const maxBig = p.type === 'query' ? 600 : 60_000;
    const modes: fc.Arbitrary<Case>[] = [];
    if (!p.isPublic) {
      modes.push(
        fc.tuple(badTokens(revokedTokens), anyWire(maxBig)).map(([tok, w]) => ({ ...w, mode: 'badSession' as const, token: tok })),
      );
    }
    if (p.hasInput) {
      modes.push(invalidWire(spec, foreignIds, maxBig).map((w) => ({ ...w, mode: 'invalid' as const, token })));
    }
    if (spec.foreign) {
      modes.push(validWire(spec, foreignIds).map((w) => ({ ...w, mode: 'foreign' as const, token })));
    }
    if (p.type === 'query') {
      modes.push(anyWire(maxBig).map((w) => ({ ...w, mode: 'read' as const, token })));
    }
    return fc.oneof(...modes).map(describable);
  }

  function sendCase(p: (typeof procedures)[number], c: Case): Promise<WireResponse> {
    const headers = sessionHeaders(c.token);
    if (p.type === 'query') {
      if (c.raw !== undefined) return send(`${base}/trpc/${p.path}?input=${encodeURIComponent(c.raw)}`, { headers });
      return getCall(base, p.path, c.wire, headers);
    }
    return postCall(base, p.path, c.wire, headers, c.raw);
  }

  function expectedStatuses(p: (typeof procedures)[number], c: Case): number[] {
    switch (c.mode) {
      case 'badSession':
        return [401];
      case 'invalid':
        return [400];
      case 'foreign':
        return SPECS[p.path]?.foreign ?? [];
      case 'read':
        return [200, 400, 404];
    }
  }

  it.each(procedures.map((p) => [p.path, p] as const))('%s: bad input gets a tRPC 4xx and changes nothing', async (_path, p) => {
    const before = await snapshot(t.db);
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(casesFor(p), async (c) => {
        const res = await sendCase(p, c);
        const key = `${c.mode}:${res.status}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        expect(res.status, `${c.mode} / ${c.label}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
        expect(expectedStatuses(p, c), `${c.mode} / ${c.label}: ${res.text.slice(0, 300)}`).toContain(res.status);
        if (res.status !== 200) {
          const error = trpcError(res);
          if (c.mode === 'badSession') expect(error.data.code).toBe('UNAUTHORIZED');
          if (c.mode === 'invalid') expect(error.data.code).toBe('BAD_REQUEST');
        }
      }),
      { numRuns: RUNS },
    );
    expectUnchanged(before, await snapshot(t.db));
    // Every mode that applies to the procedure was exercised.
    const modes = new Set([...seen.keys()].map((k) => k.split(':')[0]));
    const applicable = [
      !p.isPublic && 'badSession',
      p.hasInput && 'invalid',
      SPECS[p.path]?.foreign && 'foreign',
      p.type === 'query' && 'read',
    ];
    expect([...modes].sort()).toEqual(applicable.filter((m): m is string => typeof m === 'string').sort());

    // Still up, still correct.
    const health = await send(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(t.logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });

  it('sent the well-formed logins on to WeChat, whose refusal became UNAUTHORIZED', () => {
    // So the 401s above came from WeChat refusing unknown codes, not from our validation.
    expect(wechat.calls.length).toBeGreaterThan(5);
  });
});
