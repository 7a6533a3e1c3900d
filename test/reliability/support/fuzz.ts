import fc from 'fast-check';
import superjson from 'superjson';
import { HISTORY_TYPES } from '../../../src/history/history';

/*
 * Input generators for the per-procedure fuzz. Each procedure is described by its fields (from
 * API.md); the generators build inputs that are invalid BY CONSTRUCTION (one field corrupted or a
 * required one missing, a non-object input, undecodable superjson, a non-JSON body), so the test can
 * demand exactly 400, or valid-shaped inputs aimed at objects the caller does not own, so it can
 * demand exactly 404 — and in both cases that nothing in the database changed.
 */

export type FieldKind =
  | 'id'
  | 'text'
  | 'quantity'
  | 'requestId'
  | 'cursor'
  | 'limit'
  | 'logType'
  | 'loginCode'
  | 'base64'
  | 'gender'
  | 'avatarUrl'
  | 'int'
  | 'enum'
  | 'bool'
  | 'date'
  | 'timeZone';

export interface FieldSpec {
  name: string;
  kind: FieldKind;
  required?: boolean;
  /** For text: minimum and maximum length (code points); for base64: maximum length. */
  min?: number;
  max?: number;
  /** null is an accepted value (the profile's "clear this field"). */
  nullable?: boolean;
  /** For enum: the accepted strings. */
  values?: readonly string[];
}

/** Procedures whose input contains only these fields (plus whole-input rules below). */
export interface ProcedureSpec {
  fields: FieldSpec[];
  /** Valid-shaped input aimed at other users' objects: the statuses allowed (absent: mode not used). */
  foreign?: number[];
  /** Extra rule making an otherwise valid object invalid (goods.update needs something to change). */
  needsOneOf?: string[];
  /** encryptedData and iv come together. */
  pairs?: [string, string][];
}

export const LONE_SURROGATES = ['\ud800', '\udfff', 'a\udc00b', 'x\ud83d'];

/** Text that has broken naive servers: NUL, BOM, bidi overrides, ZWJ emoji, SQL, LIKE wildcards, templates. */
export const NASTY_TEXT = [
  '\u0000',
  'a\u0000b',
  '\u202eevil\u202c',
  'مرحبا بالعالم',
  'עברית',
  '👩‍👩‍👧‍👦',
  '🧪🧪🧪',
  '\ufeffbom',
  'zero\u200bwidth',
  'e\u0301',
  '%',
  '_',
  '\\',
  "'",
  '"',
  '`',
  "'; DROP TABLE goods; --",
  '" OR 1=1 --',
  '%_\\%',
  'line\r\nbreak',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log-injection probe, meant literally
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  'NaN',
  'null',
  '__proto__',
  '全角\u3000空格',
];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Any string at all, up to `maxBig` UTF-16 units: well-formed or not, tiny or huge. */
export function anyString(maxBig: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(...NASTY_TEXT, ...LONE_SURROGATES, '', ' ', '\t\n'),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ unit: loneSurrogate, maxLength: 5 }),
    fc
      .tuple(fc.constantFrom('x', '字', '😀', '\u0000', '%'), fc.integer({ min: 200, max: maxBig }))
      .map(([c, n]) => c.repeat(Math.max(1, Math.floor(n / c.length)))),
  );
}

/** A string the text fields accept: 1..max code points of printable graphemes, not blank. */
export function validText(max: number): fc.Arbitrary<string> {
  const safe = NASTY_TEXT.filter((s) => s.trim() !== '' && Array.from(s.trim()).length <= max);
  return fc
    .oneof(fc.constantFrom(...safe), fc.string({ unit: 'grapheme', minLength: 1, maxLength: Math.min(30, max - 1) }))
    .map((s) => `k${s}`)
    .map((s) => Array.from(s).slice(0, max).join(''));
}

/** Nested arrays `depth` deep: a parser bomb for recursive decoders. */
export function deepArray(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

export function deepObject(depth: number): unknown {
  let v: unknown = { leaf: true };
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
}

const notAnObject = (maxBig: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.constant(null),
    anyString(maxBig),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.bigInt(),
    // Not Date/Map/Set/RegExp: zod 4's z.object accepts any non-array object, and with no required
    // field such an input is as good as {} (it reads no property of it).
    fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  );

/** Values of the wrong JSON/superjson type for a string field. */
const notAString = (nullable: boolean): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.bigInt(),
    fc.date(),
    fc.constant([]),
    fc.array(fc.string(), { minLength: 1, maxLength: 3 }),
    fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
    fc.constant(deepArray(100)),
    ...(nullable ? [] : [fc.constant(null)]),
  );

/** Values that are not a positive 32-bit integer. */
const notAnId: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, -1, 1.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), Number.NaN, Infinity, -Infinity, Number.MIN_VALUE),
  fc.integer({ max: 0 }),
  fc.maxSafeNat().map((n) => Math.min(Number.MAX_SAFE_INTEGER, n + 2 ** 31)),
  fc.double({ noInteger: true }),
  fc.constantFrom('1', '', '0x10', '1e3', ' 1'),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt({ min: 1n, max: 100n }),
  fc.date(),
  fc.constant([1]),
  fc.constant({ id: 1 }),
  fc.constant(deepObject(100)),
);

function tooLong(max: number, maxBig: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom('x', '字', '😀', '\u0000'), fc.integer({ min: max + 1, max: Math.max(max + 1, Math.min(maxBig, max * 4 + 10)) }))
    .map(([c, n]) => `k${c.repeat(n)}k`);
}

/** A value the field refuses. */
export function invalidValue(field: FieldSpec, maxBig: number): fc.Arbitrary<unknown> {
  switch (field.kind) {
    case 'id':
      return notAnId;
    case 'text': {
      const max = field.max ?? 100;
      const blank = (field.min ?? 0) >= 1 ? [fc.constantFrom('', ' ', '\t\n', '\u3000', '\ufeff ')] : [];
      return fc.oneof(notAString(field.nullable ?? false), tooLong(max, maxBig), ...blank);
    }
    case 'quantity':
      return fc.oneof(
        fc.constantFrom(0, -1, 1.5, 1_000_001, 2 ** 31, Number.NaN, Infinity, '5', true, null, [], {}),
        fc.integer({ min: 1_000_001 }),
        fc.integer({ max: 0 }),
        fc.bigInt({ min: 1n, max: 10n }),
        fc.date(),
      );
    case 'requestId':
      return fc.oneof(
        fc.constantFrom('', 5, true, null, [], {}, ...LONE_SURROGATES),
        fc.integer({ min: 65, max: 2000 }).map((n) => 'r'.repeat(n)),
        notAString(false),
      );
    case 'cursor':
      return fc.oneof(
        fc.integer({ min: 65, max: 2000 }).map((n) => 'c'.repeat(n)),
        fc.constantFrom(5, true, [], {}),
        fc.date(),
      );
    case 'limit':
      return fc.constantFrom(0, -1, 101, 1.5, '20', null, true, Number.NaN, Infinity, 2 ** 40, []);
    case 'logType':
      return fc.oneof(
        fc.constantFrom('stock.inx', '', 'STOCK.IN', ' stock.in', 'stock.in ', 5, null, true, [], {}),
        anyString(200).filter((s) => !(HISTORY_TYPES as readonly string[]).includes(s)),
      );
    case 'loginCode':
      return fc.oneof(
        fc.constantFrom('', '   ', '中文', 'a b', 'tab\there', '\u0000', 'x\u007f', ...LONE_SURROGATES),
        fc.integer({ min: 121, max: 5000 }).map((n) => 'c'.repeat(n)),
        notAString(false),
      );
    case 'base64':
      return fc.oneof(fc.constant(''), tooLong(field.max ?? 64, maxBig), notAString(false));
    case 'gender':
      return fc.constantFrom(3, -1, 1.5, '1', true, null, Number.NaN, [], {}, 2 ** 31);
    case 'avatarUrl':
      return fc.oneof(
        fc.constantFrom('javascript:alert(1)', 'ftp://example.com/a.png', 'http://a b', 'data:text/html,<b>x</b>', '//evil'),
        fc.integer({ min: 1025, max: 4000 }).map((n) => `https://x/${'a'.repeat(n)}`),
        notAString(true),
      );
    case 'int': {
      const min = field.min ?? 0;
      const max = field.max ?? 2_147_483_647;
      return fc.oneof(
        fc.constantFrom<unknown>(min - 1, max + 1, min + 0.5, Number.NaN, Infinity, -Infinity, String(min), true, [], {}),
        // fc.integer stays within 32 bits: beyond that the constants above stand in.
        ...(min > -(2 ** 31) ? [fc.integer({ max: min - 1 })] : []),
        ...(max < 2 ** 31 - 1 ? [fc.integer({ min: max + 1 })] : []),
        fc.bigInt({ min: 1n, max: 10n }),
        fc.date(),
        ...(field.nullable ? [] : [fc.constant(null)]),
      );
    }
    case 'enum': {
      const values = field.values ?? [];
      return fc.oneof(
        fc.constantFrom<unknown>('', 5, null, true, [], {}, ...values.map((v) => v.toUpperCase()), ...values.map((v) => ` ${v}`)),
        anyString(200).filter((v) => !values.includes(v)),
      );
    }
    case 'bool':
      return fc.constantFrom('true', 'false', 1, 0, null, [], {}, 'yes');
    case 'date':
      return fc.constantFrom<unknown>('2026-01-01', '2026-01-01T00:00:00.000Z', 1_767_225_600_000, null, true, [], {}, 'now');
    case 'timeZone':
      return fc.oneof(
        fc.constantFrom<unknown>('', 'Mars/Olympus', 'Asia/Shanghai ', 'asia/shanghai/x', 'UTC+99', 8, null, true, [], {}),
        fc.integer({ min: 65, max: 500 }).map((n) => 'Z'.repeat(n)),
      );
  }
}

/** A value the field accepts. */
export function validValue(field: FieldSpec, ids: readonly number[]): fc.Arbitrary<unknown> {
  switch (field.kind) {
    case 'id':
      return fc.constantFrom(...ids);
    case 'text':
      return (field.min ?? 0) >= 1 ? validText(field.max ?? 100) : fc.oneof(fc.constant(''), validText(field.max ?? 100));
    case 'quantity':
      return fc.integer({ min: 1, max: 1_000_000 });
    case 'requestId':
      return fc.oneof(fc.uuid(), validText(64));
    case 'cursor':
      return fc.constant(null);
    case 'limit':
      return fc.integer({ min: 1, max: 100 });
    case 'logType':
      return fc.constantFrom(...HISTORY_TYPES);
    case 'loginCode':
      return fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 120 });
    case 'base64':
      return fc.base64String({ minLength: 4, maxLength: Math.min(field.max ?? 64, 64) });
    case 'gender':
      return fc.constantFrom(0, 1, 2);
    case 'avatarUrl':
      return fc.constant('https://example.com/a.png');
    case 'int': {
      const ints = fc.integer({ min: field.min ?? 0, max: field.max ?? 2_147_483_647 });
      return field.nullable ? fc.oneof(ints, fc.constant(null)) : ints;
    }
    case 'enum':
      return fc.constantFrom(...(field.values ?? []));
    case 'bool':
      return fc.boolean();
    case 'date':
      return fc.date({ min: new Date('2026-01-01T00:00:00Z'), max: new Date('2026-06-30T00:00:00Z'), noInvalidDate: true });
    case 'timeZone':
      return fc.constantFrom('Asia/Shanghai', 'UTC', 'America/New_York', 'Europe/Berlin');
  }
}

/** Keys no procedure declares, with any JSON under them: they must be ignored, never trusted. */
function extraFields(spec: ProcedureSpec): fc.Arbitrary<Record<string, unknown>> {
  const declared = new Set(spec.fields.map((f) => f.name));
  return fc
    .dictionary(
      fc.oneof(
        fc.constantFrom('userId', 'user_id', 'live', 'quantity_after', 'isAdmin', 'constructor', 'toString'),
        fc.string({ maxLength: 12 }),
      ),
      fc.jsonValue({ maxDepth: 3 }),
      { maxKeys: 4 },
    )
    .map((extra) => Object.fromEntries(Object.entries(extra).filter(([k]) => !declared.has(k) && k !== '__proto__')));
}

/** A valid-shaped input (ids from `ids`), optional fields present or not. */
export function validInput(spec: ProcedureSpec, ids: readonly number[]): fc.Arbitrary<Record<string, unknown>> {
  const parts = spec.fields.map((field) =>
    field.required
      ? validValue(field, ids).map((v) => [field.name, v] as const)
      : fc.option(
          validValue(field, ids).map((v) => [field.name, v] as const),
          { nil: undefined },
        ),
  );
  return fc.tuple(...parts).map((entries) => {
    const input: Record<string, unknown> = Object.fromEntries(entries.filter((e): e is readonly [string, unknown] => e !== undefined));
    for (const [a, b] of spec.pairs ?? []) {
      if (a in input !== b in input) {
        delete input[a];
        delete input[b];
      }
    }
    if (spec.needsOneOf && !spec.needsOneOf.some((k) => k in input)) {
      const first = spec.fields.find((f) => f.name === spec.needsOneOf?.[0]);
      if (first) input[first.name] = 'kfixed';
    }
    return input;
  });
}

export interface Wire {
  /** What goes on the wire: the superjson `{ json, meta }` or anything else. */
  wire?: unknown;
  /** A raw body / query text instead (not JSON). */
  raw?: string;
  label: string;
}

function serialized(input: unknown, extras: Record<string, unknown> = {}): unknown {
  let wire: { json: unknown; meta?: unknown };
  try {
    wire = superjson.serialize(input) as typeof wire;
  } catch {
    // superjson refuses to write a "__proto__" key; send it as plain JSON (an own property on arrival).
    const text = JSON.stringify(input, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
    wire = { json: text === undefined ? null : JSON.parse(text) };
  }
  if (wire.json && typeof wire.json === 'object' && !Array.isArray(wire.json)) {
    // Extra keys go straight into the JSON so that even "constructor" arrives as an own property.
    for (const [k, v] of Object.entries(extras)) (wire.json as Record<string, unknown>)[k] = v;
  }
  return wire;
}

const garbageMeta: fc.Arbitrary<unknown> = fc
  .oneof(
    fc.jsonValue({ maxDepth: 3 }),
    fc.record({
      values: fc.dictionary(
        fc.oneof(
          fc.constantFrom('code', 'id', 'directoryId', 'name', 'x', '__proto__.polluted', 'constructor.prototype.x', ''),
          fc.string({ maxLength: 8 }),
        ),
        fc.oneof(
          fc.constantFrom<unknown>(
            ['Date'],
            ['bigint'],
            ['regexp'],
            ['set'],
            ['map'],
            ['symbol'],
            [['class', 'Nope']],
            [['custom', 'nope']],
            ['garbage'],
            [5],
            [null],
          ),
          fc.jsonValue({ maxDepth: 2 }),
        ),
        { minKeys: 1, maxKeys: 3 },
      ),
    }),
    fc.record({ referentialEqualities: fc.jsonValue({ maxDepth: 3 }) }),
  )
  .filter(
    // A root annotation ({ values: ['Date'] }) turns the whole input into a Date, Set or Map, which
    // zod 4's z.object takes for an empty object: not a refusal these tests can demand.
    (meta) => !(meta !== null && typeof meta === 'object' && Array.isArray((meta as { values?: unknown }).values)),
  );

const notJson = fc.oneof(
  fc.constantFrom('{', '{"json":', 'undefined', "{'json': 1}", '{"json": NaN}', '[1,2,', '\u0000', 'true false', '{"a":1}}'),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 50 }).filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }),
);

/** An input the procedure must refuse with BAD_REQUEST. */
export function invalidWire(spec: ProcedureSpec, ids: readonly number[], maxBig: number): fc.Arbitrary<Wire> {
  const corruptions: fc.Arbitrary<Wire>[] = [
    notAnObject(maxBig).map((v) => ({ wire: serialized(v), label: 'not an object' })),
    notJson.map((raw) => ({ raw, label: 'not JSON' })),
  ];
  if (spec.fields.length > 0) {
    const corruptOne = fc.tuple(validInput(spec, ids), fc.constantFrom(...spec.fields), extraFields(spec)).chain(([base, field, extras]) =>
      fc.oneof(
        invalidValue(field, maxBig).map((bad) => ({ input: { ...base, [field.name]: bad }, extras, label: `bad ${field.name}` })),
        ...(field.required ? [fc.constant({ input: omit(base, field.name), extras, label: `missing ${field.name}` })] : []),
      ),
    );
    corruptions.push(corruptOne.map(({ input, extras, label }) => ({ wire: serialized(input, extras), label })));
    // Nesting far deeper than any recursive decoder survives, written as text (JSON.stringify would
    // overflow our own stack): JSON.parse copes, and nothing may walk it recursively after that.
    const depth = maxBig > 1000 ? 20_000 : 2_000;
    corruptions.push(
      fc.tuple(validInput(spec, ids), fc.constantFrom(...spec.fields)).map(([base, field]) => {
        const rest = JSON.stringify(omit(base, field.name));
        const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
        const json = `${rest.slice(0, -1)}${rest === '{}' ? '' : ','}${JSON.stringify(field.name)}:${nested}}`;
        return { raw: `{"json":${json}}`, label: `deeply nested ${field.name}` };
      }),
    );
    // An input with a required Date always needs its meta, so no corruption of it is invalid as
    // plain JSON: the filter below would reject every one.
    const needsMeta = spec.fields.some((f) => f.kind === 'date' && f.required);
    if (!needsMeta)
      corruptions.push(
        fc
          .tuple(corruptOne, garbageMeta)
          .map(([{ input }, meta]) => ({ plain: superjson.serialize(input) as { json: unknown; meta?: unknown }, meta }))
          // Only corruptions that are invalid as plain JSON: a Date or bigint corruption lives in the
          // meta this case replaces, and without it could read as a valid string or number.
          .filter(({ plain }) => plain.meta === undefined)
          .map(({ plain, meta }) => ({ wire: { json: plain.json, meta }, label: 'invalid superjson' })),
      );
  }
  for (const [a, b] of spec.pairs ?? []) {
    corruptions.push(
      validInput(spec, ids).chain((base) =>
        fc.constantFrom(a, b).map((only) => {
          const input = omit(omit(base, a), b);
          input[only] = 'AAAA';
          return { wire: serialized(input), label: `${only} without its pair` };
        }),
      ),
    );
  }
  if (spec.needsOneOf) {
    const keep = spec.fields.filter((f) => !spec.needsOneOf?.includes(f.name));
    corruptions.push(validInput({ fields: keep }, ids).map((input) => ({ wire: serialized(input), label: 'nothing to change' })));
  }
  return fc.oneof(...corruptions);
}

/** Anything at all: for calls refused before input matters (bad session) or read-only queries. */
export function anyWire(maxBig: number): fc.Arbitrary<Wire> {
  return fc.oneof(
    fc.constant({ wire: undefined, label: 'no input' }),
    fc
      .anything({ maxDepth: 3, withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true })
      .map((v) => ({ wire: serialized(v), label: 'anything' })),
    fc.tuple(fc.jsonValue({ maxDepth: 3 }), garbageMeta).map(([json, meta]) => ({ wire: { json, meta }, label: 'garbage superjson' })),
    notJson.map((raw) => ({ raw, label: 'not JSON' })),
    anyString(maxBig).map((s) => ({ wire: serialized({ code: s, name: s.slice(0, 300), id: s.slice(0, 30) }), label: 'strings' })),
  );
}

export function validWire(spec: ProcedureSpec, ids: readonly number[]): fc.Arbitrary<Wire> {
  return fc
    .tuple(validInput(spec, ids), extraFields(spec))
    .map(([input, extras]) => ({ wire: serialized(input, extras), label: 'valid shape' }));
}

/** Session header values that name no live session: absent, malformed, unknown, revoked. */
export function badTokens(revoked: readonly string[]): fc.Arbitrary<string | null> {
  const printable = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
  return fc.oneof(
    fc.constant(null),
    fc.constant(''),
    fc.constantFrom(...revoked),
    fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('base64url')),
    fc.string({ unit: printable, minLength: 1, maxLength: 100 }),
    fc.integer({ min: 100, max: 8000 }).map((n) => 'A'.repeat(n)),
    fc.constantFrom(...revoked).map((t) => `${t}x`),
    fc.constantFrom(...revoked).map((t) => t.slice(1)),
  );
}

function omit(obj: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...obj };
  delete copy[key];
  return copy;
}
