import type { CombinedDataTransformer } from '@trpc/server';
import superjson from 'superjson';

/**
 * The server's tRPC transformer: superjson on the wire, byte for byte (clients keep plain
 * superjson), with two shortcuts for what every answer costs.
 *
 * - Answers are serialized by a single walk when they are plain data (plain objects, arrays,
 *   strings, booleans, null, finite numbers, valid Dates, no object twice), which is everything the
 *   procedures return; anything else (undefined, Map, BigInt, NaN, a repeated object, a class
 *   instance...) goes to superjson itself. superjson's generic walker copies the path array and
 *   the list of ancestors at every level and runs each value through its whole rule table, which
 *   was most of a scan's serialization (figures in bench/README.md).
 * - Inputs are deserialized in place: the transport parses each request's JSON afresh and nothing
 *   else holds it, so superjson's defensive deep copy is wasted.
 *
 * test/equivalence/transformer.test.ts checks the shortcut against superjson on arbitrary values.
 */

type Annotations = Record<string, [string]>;

/** Returned by the walk for a value the shortcut leaves to superjson. */
const GIVE_UP: unique symbol = Symbol('give up');

/** superjson's path escaping (pathstringifier.ts escapeKey). */
function escapeKey(key: string): string {
  return key.includes('\\') || key.includes('.') ? key.replace(/\\/g, '\\\\').replace(/\./g, '\\.') : key;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Keys superjson refuses (it throws on them); left to it so the refusal is its own. */
function isForbiddenKey(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

/** A value's annotations: ['Date'] for a Date itself, or paths below it (escaped, dot-joined). */
type Annotation = [string] | Annotations;

/**
 * One walk over a value. Each container collects its children's annotations under its own keys,
 * level by level as superjson does: JavaScript lists integer-like keys first at every level, so
 * only the same nesting gives the same order of paths on the wire.
 */
class Walk {
  /** The annotations of the value the last call to value() walked. */
  annotation: Annotation | undefined;
  private readonly seen = new Set<object>();

  value(v: unknown): unknown {
    this.annotation = undefined;
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        // NaN, ±Infinity and -0 are annotated by superjson.
        return Number.isFinite(v) && !Object.is(v, -0) ? v : GIVE_UP;
      case 'object':
        if (v === null) return v;
        // superjson records a second sighting of any object, a Date included, as a referential equality.
        if (this.seen.has(v)) return GIVE_UP;
        this.seen.add(v);
        if (v instanceof Date) {
          if (Number.isNaN(v.getTime())) return GIVE_UP;
          this.annotation = DATE;
          return v.toISOString();
        }
        if (Array.isArray(v)) return this.array(v as unknown[]);
        return isPlainObject(v) ? this.object(v as Record<string, unknown>) : GIVE_UP;
      default:
        return GIVE_UP;
    }
  }

  private array(a: unknown[]): unknown {
    // Holes and extra properties: superjson walks Object.entries, which differs from the indices.
    if (Object.keys(a).length !== a.length) return GIVE_UP;
    const out = new Array<unknown>(a.length);
    let annotations: Annotations | undefined;
    for (let i = 0; i < a.length; i++) {
      const item = this.value(a[i]);
      if (item === GIVE_UP) return GIVE_UP;
      out[i] = item;
      if (this.annotation) annotations = nest(annotations, String(i), this.annotation);
    }
    this.annotation = annotations;
    return out;
  }

  private object(o: Record<string, unknown>): unknown {
    const out: Record<string, unknown> = {};
    let annotations: Annotations | undefined;
    for (const key of Object.keys(o)) {
      if (isForbiddenKey(key)) return GIVE_UP;
      const item = this.value(o[key]);
      if (item === GIVE_UP) return GIVE_UP;
      out[key] = item;
      if (this.annotation) annotations = nest(annotations, escapeKey(key), this.annotation);
    }
    this.annotation = annotations;
    return out;
  }
}

const DATE: [string] = ['Date'];

/** Adds a child's annotation under `key` to its container's. */
function nest(into: Annotations | undefined, key: string, child: Annotation): Annotations {
  const out = into ?? {};
  if (Array.isArray(child)) out[key] = [child[0]!];
  else for (const path of Object.keys(child)) out[`${key}.${path}`] = child[path]!;
  return out;
}

interface SuperJsonResult {
  json: unknown;
  meta?: { values: Annotations | [string]; v: 1 };
}

/** superjson.serialize, by one walk when the value is plain data. */
export function serialize(value: unknown): SuperJsonResult {
  const walk = new Walk();
  const json = walk.value(value);
  if (json === GIVE_UP) return superjson.serialize(value) as SuperJsonResult;
  const values = walk.annotation;
  return values ? { json, meta: { values: Array.isArray(values) ? [values[0]!] : values, v: 1 } } : { json };
}

export const transformer: CombinedDataTransformer = {
  input: {
    serialize: (value: unknown) => superjson.serialize(value),
    deserialize: (payload: unknown) => superjson.deserialize(payload as Parameters<typeof superjson.deserialize>[0], { inPlace: true }),
  },
  output: {
    serialize,
    deserialize: (payload: unknown) => superjson.deserialize(payload as Parameters<typeof superjson.deserialize>[0]),
  },
};
