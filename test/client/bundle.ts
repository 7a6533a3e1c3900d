import vm from 'node:vm';
import { buildClient, FORBIDDEN_GLOBALS } from '../../scripts/build-client';
import type * as ClientModule from '../../src/client/index';

/**
 * The web and Node globals a mini-program does not have: the build refuses a bundle that uses one,
 * and the sandbox the tests load it into has none of them (setImmediate neither).
 */
export const ABSENT_GLOBALS = [...FORBIDDEN_GLOBALS, 'setImmediate'] as const;

export type ClientExports = typeof ClientModule;

export interface LoadedBundle {
  exports: ClientExports;
  context: vm.Context;
  /** Runs `expression` inside the sandbox (e.g. `typeof fetch`). */
  evaluate(expression: string): unknown;
  /** JSON.parse of the sandbox, so parsed responses belong to the bundle's realm, as on a phone. */
  parseJSON(text: string): unknown;
  /** Installs the global `wx`. */
  setWx(wx: unknown): void;
}

let built: Promise<string> | null = null;

/** Builds the bundle once per test file, in memory (both DB projects run at once: no shared file). */
export function bundleCode(): Promise<string> {
  built ??= buildClient({ outfile: null, minify: true }).then((b) => b.code);
  return built;
}

/**
 * Loads the built bundle the way a mini-program's `require` does, in a context holding only `wx`,
 * `console`, the timers and the ECMAScript built-ins.
 */
export async function loadBundle(): Promise<LoadedBundle> {
  const code = await bundleCode();
  const context = vm.createContext({ wx: undefined, console, setTimeout, clearTimeout, setInterval, clearInterval });
  const factory = new vm.Script(`(function (module, exports) {${code}\n})`, {
    filename: 'scancode-client.js',
  }).runInContext(context) as (module: { exports: unknown }, exports: unknown) => void;
  const module = vm.runInContext('({ exports: {} })', context) as { exports: unknown };
  factory(module, module.exports);
  const parse = vm.runInContext('JSON.parse', context) as (text: string) => unknown;
  return {
    exports: module.exports as ClientExports,
    context,
    evaluate: (expression) => vm.runInContext(expression, context),
    parseJSON: (text) => parse(text),
    setWx(wx) {
      context.wx = wx;
    },
  };
}
