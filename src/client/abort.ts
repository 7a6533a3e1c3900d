/**
 * A minimal AbortController / AbortSignal for runtimes that have neither (WeChat mini-programs).
 *
 * `@trpc/client` creates an AbortController for every call, so the bundle build injects these in
 * place of the globals (esbuild `inject`), without touching the mini-program's global scope. They
 * are also exported, so page code can cancel a call: `client.x.query(input, { signal })`.
 */

type AbortListener = (event: { type: 'abort'; target: MiniAbortSignal }) => void;

function abortError(): Error {
  const err = new Error('This operation was aborted');
  err.name = 'AbortError';
  return err;
}

export class MiniAbortSignal {
  aborted = false;
  reason: unknown = undefined;
  onabort: AbortListener | null = null;
  private listeners: { fn: AbortListener; once: boolean }[] = [];

  addEventListener(type: string, fn: AbortListener, options?: { once?: boolean } | boolean): void {
    if (type !== 'abort' || this.listeners.some((l) => l.fn === fn)) return;
    this.listeners.push({ fn, once: typeof options === 'object' && options !== null && options.once === true });
  }

  removeEventListener(type: string, fn: AbortListener): void {
    if (type !== 'abort') return;
    this.listeners = this.listeners.filter((l) => l.fn !== fn);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** @internal called by the controller */
  _abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason === undefined ? abortError() : reason;
    const event = { type: 'abort' as const, target: this };
    const current = this.listeners;
    this.listeners = current.filter((l) => !l.once);
    if (this.onabort) this.onabort(event);
    for (const l of current) l.fn(event);
  }
}

export class MiniAbortController {
  readonly signal = new MiniAbortSignal();

  abort(reason?: unknown): void {
    this.signal._abort(reason);
  }
}
