import fc from 'fast-check';
import superjson from 'superjson';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serialize, transformer } from '../../src/transformer';

/*
 * The server's transformer (src/transformer.ts) must put on the wire exactly what superjson would,
 * for any value, since every client decodes with plain superjson; and it must actually take its
 * shortcut for the plain data procedures return, or it is only a detour.
 */

/** What a serializer puts on the wire for `value`, or the message it refuses it with. */
function wire(serializer: (value: unknown) => unknown, value: unknown): string {
  try {
    return JSON.stringify(serializer(value));
  } catch (err) {
    return `refused: ${(err as Error).message}`;
  }
}

const same = (value: unknown) => {
  expect(wire(serialize, value)).toBe(wire((v) => superjson.serialize(v), value));
};

/** Keys that need superjson's path escaping, or look like indices, or are empty. */
const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('a.b', 'a\\b', '.', '\\', '\\.', '0', '10', ''));
const date = fc.date({ min: new Date(-8.64e15), max: new Date(8.64e15) });
/** The plain data the shortcut handles: objects, arrays, strings, booleans, null, numbers, Dates. */
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.integer(),
    fc.double(),
    date,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(key, tie('value'), { maxKeys: 4 }),
  ),
})).value;

describe('server transformer', () => {
  afterEach(() => vi.restoreAllMocks());

  it('serializes plain data exactly as superjson does', () => {
    fc.assert(fc.property(plain, same), { numRuns: 2000 });
  });

  it('serializes anything at all exactly as superjson does', () => {
    const anything = fc.anything({
      withDate: true,
      withMap: true,
      withSet: true,
      withBigInt: true,
      withNullPrototype: true,
      withSparseArray: true,
      withBoxedValues: true,
      withTypedArray: true,
      withUnicodeString: true,
    });
    fc.assert(fc.property(anything, same), { numRuns: 2000 });
  });

  it('agrees on the cases superjson annotates or refuses', () => {
    const d = new Date(0);
    const shared = { k: 1 };
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const withExtra = Object.assign([1, 2], { extra: new Date(5) });
    for (const value of [
      undefined,
      d,
      [d, d],
      { a: d, b: { c: d } },
      { a: shared, b: shared },
      cyclic,
      { n: NaN, z: -0, i: -Infinity },
      { u: undefined },
      // biome-ignore lint/suspicious/noSparseArray: a sparse array is one of the values under test
      [1, , 3],
      withExtra,
      { big: 10n },
      { when: new Date(NaN) },
      new Map([[1, 2]]),
      { f: () => 1 },
      Object.create(null) as object,
      { x: new URL('https://example.com/') },
      { 'a.b': [[{ '': new Date(0) }], new Date(1)] },
      { list: [{ at: new Date(2) }, new Date(3), { 10: new Date(4), b: new Date(5) }] },
    ]) {
      same(value);
    }
    expect(() => serialize(JSON.parse('{"__proto__": {"x": 1}}'))).toThrow(/prototype pollution/);
    expect(() => serialize({ constructor: 1 })).toThrow(/prototype pollution/);
  });

  it('round-trips through the client: superjson decodes what it encodes', () => {
    fc.assert(
      fc.property(plain, (value) => {
        expect(superjson.parse(JSON.stringify(serialize(value)))).toEqual(superjson.parse(superjson.stringify(value)));
      }),
      { numRuns: 500 },
    );
  });

  it('does not hand a goods answer or a page of them to superjson', () => {
    const spy = vi.spyOn(superjson, 'serialize');
    const goods = (id: number) => ({
      id,
      directoryId: 3,
      code: `690${id}`,
      name: '可乐 330ml',
      remarks: '',
      quantity: 12,
      createdAt: new Date(),
      lastActiveAt: new Date(),
    });
    const answers = [goods(1), null, { goods: goods(2), created: false }, { items: [goods(3), goods(4)], nextCursor: null }];
    for (const value of answers) expect(serialize(value).meta ?? null).toEqual(superjson.serialize(value).meta ?? null);
    expect(spy).toHaveBeenCalledTimes(answers.length); // only the reference calls just above
  });

  it("decodes inputs in place, with superjson's meaning", () => {
    const wire = superjson.serialize({ at: new Date(7), list: [new Date(8)], n: 1 });
    const parsed = JSON.parse(JSON.stringify(wire)) as Parameters<typeof superjson.deserialize>[0];
    const decoded = transformer.input.deserialize(parsed) as { at: Date; list: Date[] };
    expect(decoded).toEqual({ at: new Date(7), list: [new Date(8)], n: 1 });
    expect(decoded).toBe((parsed as { json: unknown }).json);
  });
});
