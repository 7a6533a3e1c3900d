/**
 * Bundles the mini-program client (src/client) into one CommonJS file a mini-program can `require`:
 * superjson and @trpc/client inside, ES2017 syntax, no Node built-ins, and no reliance on the web
 * globals mini-programs lack (checked after every build).
 *
 *   npm run build:client            → dist/miniprogram/scancode-client.js
 *   npm run build:client -- --out <file> [--no-minify]
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');
export const DEFAULT_OUTFILE = join(ROOT, 'dist/miniprogram/scancode-client.js');

/** Globals a mini-program does not have; the bundle must not reach for any of them. */
export const FORBIDDEN_GLOBALS = [
  'fetch',
  'AbortController',
  'AbortSignal',
  'URL',
  'URLSearchParams',
  'TextEncoder',
  'TextDecoder',
  'Headers',
  'Request',
  'Response',
  'ReadableStream',
  'EventSource',
  'WebSocket',
  'DOMException',
  'Buffer',
  'process',
  'global',
  'window',
  'self',
  'document',
  'structuredClone',
  'queueMicrotask',
  'require',
] as const;

/** Replaced inside the bundle by src/client/ponyfills.ts, so they are not looked up globally. */
const PONYFILLED = new Set<string>(['AbortController', 'AbortSignal', 'URL']);

const MARKER = '__scancode_forbidden_global__';

/**
 * @trpc/client's package.json does not declare `sideEffects: false`, so esbuild would keep every link
 * it ships (wsLink, the SSE and streaming links). Its modules only declare things, so say so.
 */
const trpcWithoutSideEffects: Plugin = {
  name: 'trpc-without-side-effects',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'resolving' || args.kind === 'entry-point') return undefined;
      const resolved = await b.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'resolving',
      });
      if (resolved.errors.length || !/[\\/]node_modules[\\/]@trpc[\\/]/.test(resolved.path)) return undefined;
      return { path: resolved.path, sideEffects: false };
    });
  },
};

function baseOptions(minify: boolean): BuildOptions {
  return {
    absWorkingDir: ROOT,
    entryPoints: [join(ROOT, 'src/client/index.ts')],
    bundle: true,
    format: 'cjs',
    platform: 'neutral',
    target: 'es2017',
    // `platform: neutral` resolves no main fields by default; prefer the ESM builds so unused parts tree-shake away.
    mainFields: ['module', 'main'],
    conditions: ['import', 'default'],
    // @trpc/client creates an AbortController per call and superjson tests `instanceof URL`.
    inject: [join(ROOT, 'src/client/ponyfills.ts')],
    plugins: [trpcWithoutSideEffects],
    tsconfig: join(ROOT, 'tsconfig.json'),
    minify,
    legalComments: 'eof',
    logLevel: 'silent',
    write: false,
  };
}

/**
 * esbuild's `define` replaces only free (global) identifiers, never local bindings of the same name,
 * so defining each forbidden global as a marker and looking for the marker finds every real use.
 */
export async function findForbiddenGlobals(): Promise<string[]> {
  const define: Record<string, string> = {};
  // A define would win over the inject, so the ponyfilled names are left to the inject.
  for (const name of FORBIDDEN_GLOBALS) if (!PONYFILLED.has(name)) define[name] = `${MARKER}${name}`;
  const result = await build({ ...baseOptions(false), define });
  const text = result.outputFiles?.[0]?.text ?? '';
  const found = new Set<string>();
  for (const m of text.matchAll(new RegExp(`${MARKER}(\\w+)`, 'g'))) found.add(m[1]!);
  return [...found].sort();
}

export interface BuildClientOptions {
  /** Where to write the bundle; `null` builds in memory only. */
  outfile?: string | null;
  minify?: boolean;
}

export interface BuiltClient {
  code: string;
  outfile: string | null;
  bytes: number;
  /** Every source file with code in the bundle, relative to the repository root. */
  inputs: string[];
}

export async function buildClient(opts: BuildClientOptions = {}): Promise<BuiltClient> {
  const outfile = opts.outfile === undefined ? DEFAULT_OUTFILE : opts.outfile;
  const [result, forbidden] = await Promise.all([build({ ...baseOptions(opts.minify ?? true), metafile: true }), findForbiddenGlobals()]);
  if (forbidden.length) {
    throw new Error(`The client bundle uses globals a mini-program lacks: ${forbidden.join(', ')}`);
  }
  const code = result.outputFiles?.[0]?.text;
  if (!code) throw new Error('esbuild produced no output');
  if (outfile) {
    mkdirSync(dirname(outfile), { recursive: true });
    writeFileSync(outfile, code);
  }
  // Files esbuild read but tree-shook away entirely contribute no bytes: they are not in the bundle.
  const contributing = Object.values(result.metafile?.outputs ?? {}).flatMap((o) =>
    Object.entries(o.inputs)
      .filter(([, info]) => info.bytesInOutput > 0)
      .map(([path]) => path),
  );
  return { code, outfile, bytes: Buffer.byteLength(code), inputs: [...new Set(contributing)].sort() };
}

async function main(argv: string[]): Promise<void> {
  const outIndex = argv.indexOf('--out');
  const outfile = outIndex >= 0 ? resolve(argv[outIndex + 1] ?? '') : DEFAULT_OUTFILE;
  const built = await buildClient({ outfile, minify: !argv.includes('--no-minify') });
  console.log(`client bundle: ${built.outfile} (${(built.bytes / 1024).toFixed(1)} KiB, CommonJS, ES2017)`);
}

if (typeof require !== 'undefined' && require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
