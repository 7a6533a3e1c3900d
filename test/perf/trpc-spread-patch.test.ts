import fc from 'fast-check';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * patches/@trpc+server+*.patch replaces the object-spread helper compiled into @trpc/server with a
 * faster one (patches/README.md). It must be installed (npm's postinstall applies it), and it must
 * build exactly the objects the helper it replaces builds: same prototype, keys in the same order,
 * same property descriptors, the same getters called, for whatever tRPC spreads.
 */

const trpcDist = path.join(path.dirname(createRequire(__filename).resolve('@trpc/server')), '.');
const helperFiles = readdirSync(trpcDist).filter((f) => /^getErrorShape-.*\.(c|m)?js$/.test(f));

/** The helper as installed: its region of the file, with the helpers it calls, evaluated alone. */
function installedHelper(file: string): (...args: unknown[]) => object {
  const source = readFileSync(path.join(trpcDist, file), 'utf8');
  const start = source.indexOf('function _typeof(o)');
  const end = source.indexOf('\n}\n', source.indexOf('function _objectSpread2(e)')) + 3;
  expect(start).toBeGreaterThan(-1);
  return new Function(`${source.slice(start, end)}\nreturn _objectSpread2;`)() as (...args: unknown[]) => object;
}

/* The helper tRPC ships (Babel's objectSpread2, as oxc emits it), the reference. */
function ownKeys(e: object, r?: boolean): PropertyKey[] {
  const t: PropertyKey[] = Object.keys(e);
  let o: PropertyKey[] = Object.getOwnPropertySymbols(e);
  if (r) o = o.filter((s) => Object.getOwnPropertyDescriptor(e, s)!.enumerable);
  t.push(...o);
  return t;
}
function defineProperty(e: Record<PropertyKey, unknown>, r: PropertyKey, t: unknown) {
  if (r in e) Object.defineProperty(e, r, { value: t, enumerable: true, configurable: true, writable: true });
  else e[r] = t;
}
function reference(e: Record<PropertyKey, unknown>, ...args: unknown[]): object {
  args.forEach((arg, index) => {
    const t = (arg ?? {}) as Record<PropertyKey, unknown>;
    if (index % 2 === 0) ownKeys(Object(t), true).forEach((r) => defineProperty(e, r, t[r]));
    else Object.defineProperties(e, Object.getOwnPropertyDescriptors(t));
  });
  return e;
}

/** Everything observable about an object built by a spread, getters' results included. */
function observe(o: object, calls: string[]): unknown {
  return {
    proto: Object.getPrototypeOf(o) === Object.prototype ? 'Object.prototype' : Object.getPrototypeOf(o),
    props: Reflect.ownKeys(o).map((k) => {
      const d = Object.getOwnPropertyDescriptor(o, k)!;
      return [String(k), d.enumerable, d.configurable, 'value' in d ? ['value', d.value, d.writable] : ['accessor', typeof d.get, typeof d.set]];
    }),
    calls: [...calls],
  };
}

const sym = Symbol('s');
const key = fc.constantFrom('a', 'b', 'input', 'ctx', '__proto__', 'toString', 'constructor', '0', '1', sym);
/** A source object: plain values, and sometimes a getter, a non-enumerable or an own __proto__. */
const source = (calls: string[]) =>
  fc.option(
    fc.array(fc.record({ key, value: fc.oneof(fc.integer(), fc.string(), fc.constant(undefined)), kind: fc.constantFrom('data', 'data', 'data', 'getter', 'hidden') }), { maxLength: 5 }).map(
      (props) => {
        const o: Record<PropertyKey, unknown> = {};
        for (const { key: k, value, kind } of props) {
          if (kind === 'data') Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
          else if (kind === 'hidden') Object.defineProperty(o, k, { value, enumerable: false, writable: true, configurable: true });
          else Object.defineProperty(o, k, { get: () => (calls.push(String(k)), value), enumerable: true, configurable: true });
        }
        return o;
      },
    ),
    { nil: undefined },
  );

describe("tRPC's object-spread helper, patched", () => {
  it('is the patched one in every build of @trpc/server that is installed', () => {
    expect(helperFiles.length).toBeGreaterThanOrEqual(2); // the CommonJS and the ES module build
    for (const file of helperFiles) expect(readFileSync(path.join(trpcDist, file), 'utf8')).toContain('scancode patch');
  });

  it('builds exactly what the original helper builds', () => {
    const patched = helperFiles.map(installedHelper);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.infiniteStream(fc.nat()), (count, seeds) => {
        // The same sources for each implementation, rebuilt so each run's getter calls are its own.
        const it = seeds[Symbol.iterator]();
        const seedList = Array.from({ length: count }, () => it.next().value as number);
        const run = (spread: (e: Record<PropertyKey, unknown>, ...args: unknown[]) => object) => {
          const calls: string[] = [];
          const args = seedList.map((seed) => fc.sample(source(calls), { seed, numRuns: 1 })[0]);
          return observe(spread({}, ...args), calls);
        };
        const expected = run(reference);
        for (const helper of patched) expect(run(helper as never)).toEqual(expected);
      }),
      { numRuns: 3000 },
    );
  });
});
