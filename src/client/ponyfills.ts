/**
 * Stand-ins for web globals that the bundled libraries reference and mini-programs lack. The
 * bundle build injects them (esbuild `inject`) in place of the globals, inside the bundle only:
 * the mini-program's global scope is never touched.
 */
export { MiniAbortController as AbortController, MiniAbortSignal as AbortSignal } from './abort';

/**
 * superjson tests every value with `value instanceof URL` (and would revive a `URL`-tagged value
 * with `new URL(href)`); without a global `URL` that test throws a ReferenceError. Nothing the
 * mini-program sends is an instance of this class, and a revived URL keeps its text.
 */
export class URL {
  readonly href: string;
  constructor(href: string) {
    this.href = String(href);
  }
  toString(): string {
    return this.href;
  }
  toJSON(): string {
    return this.href;
  }
}
