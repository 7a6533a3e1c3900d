import { TRPCClientError, type Operation, type TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { observable } from '@trpc/server/observable';
import superjson from 'superjson';
import { abortedError, jsonOrRaw, networkError, toClientError, unexpectedResponseError, type WxResponseMeta } from './errors';
import { globalWx, type WxApi, type WxRequestOption, type WxRequestTask } from './wx';

/** How inputs and outputs travel; the server uses superjson. */
export interface WireTransformer {
  serialize(value: unknown): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: the shape of tRPC's own DataTransformer, which superjson satisfies
  deserialize(value: any): unknown;
}

export interface WxLinkOptions {
  /** The tRPC endpoint, e.g. `https://api.example.com/trpc`. */
  url: string;
  /** Defaults to the mini-program's global `wx`. */
  wx?: WxApi;
  /** The session token sent as `X-Session-Token`, read before every request (so a retry after login uses the new one). */
  getToken?: () => string | null | undefined;
  /** Extra headers for every request. */
  headers?: Record<string, string> | ((ops: readonly Operation[]) => Record<string, string>);
  transformer?: WireTransformer;
  /** Most calls per HTTP request (the server refuses more than its MAX_BATCH_SIZE, 20 by default). 1 disables batching. */
  maxBatchSize?: number;
  /** A batch of queries whose GET URL would be longer than this is split into several requests. */
  maxURLLength?: number;
  /** wx.request `timeout`, in ms. */
  timeout?: number;
  /** How many times a call that may safely be repeated is re-sent after a network failure. */
  retries?: number;
  /** Wait before re-send number `attempt` (1-based). */
  retryDelay?: (attempt: number) => number;
  /** Which calls may be re-sent after a network failure: queries, and mutations that carry a `requestId`. */
  isRetryable?: (op: Operation) => boolean;
}

export const DEFAULT_MAX_BATCH_SIZE = 10;
export const DEFAULT_MAX_URL_LENGTH = 2000;
export const DEFAULT_TIMEOUT_MS = 15_000;
export const DEFAULT_RETRIES = 2;
export const SESSION_TOKEN_HEADER = 'X-Session-Token';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A mutation is safe to re-send only when the server can recognise the repeat by its requestId. */
export function defaultIsRetryable(op: Operation): boolean {
  if (op.type === 'query') return true;
  return op.type === 'mutation' && isObject(op.input) && typeof op.input.requestId === 'string';
}

const defaultRetryDelay = (attempt: number) => Math.min(250 * 2 ** (attempt - 1), 4000);

interface SignalLike {
  aborted: boolean;
  reason?: unknown;
  addEventListener(type: 'abort', fn: () => void, opts?: { once?: boolean }): void;
  removeEventListener(type: 'abort', fn: () => void): void;
}

type ItemType = 'query' | 'mutation';

interface Item {
  op: Operation;
  /** The serialized input as JSON text, computed once so every re-send carries the same bytes. */
  inputJSON: string | undefined;
  done: boolean;
  /** The request (or the timer before a re-send) this item currently waits on. */
  attempt: Attempt | null;
  resolve(envelope: unknown, meta: WxResponseMeta): void;
  reject(err: TRPCClientError<AnyRouter>): void;
}

interface Attempt {
  items: Item[];
  task: WxRequestTask | null;
  timer: ReturnType<typeof setTimeout> | null;
  settled: boolean;
}

/**
 * A terminating tRPC link over `wx.request`, wire compatible with `httpBatchLink`: calls made in the
 * same tick go out together as `GET /trpc/a,b?batch=1&input={"0":…,"1":…}` (queries) or
 * `POST /trpc/a,b?batch=1` with the inputs as the JSON body (mutations).
 */
export function wxLink<TRouter extends AnyRouter = AnyRouter>(opts: WxLinkOptions): TRPCLink<TRouter> {
  const baseUrl = opts.url.replace(/\/+$/, '');
  const transformer = opts.transformer ?? superjson;
  const maxBatchSize = Math.max(1, opts.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
  const maxURLLength = opts.maxURLLength ?? DEFAULT_MAX_URL_LENGTH;
  const timeout = opts.timeout ?? DEFAULT_TIMEOUT_MS;
  const retries = Math.max(0, opts.retries ?? DEFAULT_RETRIES);
  const retryDelay = opts.retryDelay ?? defaultRetryDelay;
  const isRetryable = opts.isRetryable ?? defaultIsRetryable;
  const resolveWx = () => opts.wx ?? globalWx();

  const pending: Record<ItemType, Item[]> = { query: [], mutation: [] };
  let dispatchTimer: ReturnType<typeof setTimeout> | null = null;

  const pathsOf = (items: readonly Item[]) => items.map((it) => it.op.path).join(',');

  function inputDict(items: readonly Item[]): string {
    const parts: string[] = [];
    items.forEach((it, i) => {
      if (it.inputJSON !== undefined) parts.push(`"${i}":${it.inputJSON}`);
    });
    return `{${parts.join(',')}}`;
  }

  function urlFor(type: ItemType, items: readonly Item[]): string {
    const url = `${baseUrl}/${pathsOf(items)}?batch=1`;
    return type === 'query' ? `${url}&input=${encodeURIComponent(inputDict(items))}` : url;
  }

  function groups(type: ItemType, items: Item[]): Item[][] {
    const out: Item[][] = [];
    let current: Item[] = [];
    for (const item of items) {
      const candidate = current.concat(item);
      const fits = candidate.length <= maxBatchSize && urlFor(type, candidate).length <= maxURLLength;
      if (fits || current.length === 0) {
        // A lone call longer than maxURLLength still goes out: the server may well accept it.
        current = candidate;
      } else {
        out.push(current);
        current = [item];
      }
    }
    if (current.length) out.push(current);
    return out;
  }

  function dispatch(): void {
    dispatchTimer = null;
    for (const type of ['query', 'mutation'] as const) {
      const items = pending[type].filter((it) => !it.done);
      pending[type] = [];
      for (const group of groups(type, items)) send(type, group, 0);
    }
  }

  function headersFor(type: ItemType, items: readonly Item[]): Record<string, string> {
    const extra = typeof opts.headers === 'function' ? opts.headers(items.map((it) => it.op)) : opts.headers;
    const header: Record<string, string> = { ...extra };
    if (type === 'mutation') header['content-type'] = 'application/json';
    const token = opts.getToken?.();
    if (token) header[SESSION_TOKEN_HEADER] = token;
    return header;
  }

  function send(type: ItemType, items: Item[], retriesDone: number): void {
    const live = items.filter((it) => !it.done);
    if (!live.length) return;
    const attempt: Attempt = { items: live, task: null, timer: null, settled: false };
    for (const it of live) it.attempt = attempt;

    const request: WxRequestOption = {
      url: urlFor(type, live),
      method: type === 'query' ? 'GET' : 'POST',
      header: headersFor(type, live),
      dataType: 'json',
      responseType: 'text',
      timeout,
      success(res) {
        if (attempt.settled) return;
        attempt.settled = true;
        const meta: WxResponseMeta = {
          response: { statusCode: res.statusCode, header: (res.header ?? {}) as Record<string, string> },
        };
        deliver(attempt.items, res.statusCode, res.data, meta);
      },
      fail(err) {
        if (attempt.settled) return;
        attempt.settled = true;
        failed(type, attempt.items, err, retriesDone);
      },
    };
    if (type === 'mutation') request.data = inputDict(live);
    try {
      attempt.task = resolveWx().request(request);
    } catch (err) {
      // Some runtimes throw synchronously (e.g. a domain not on the allow-list in the dev tools).
      attempt.settled = true;
      const errMsg = err instanceof Error ? err.message : String(err);
      for (const it of live) it.reject(networkError({ errMsg: `request:fail ${errMsg}` }));
    }
  }

  function failed(type: ItemType, items: Item[], err: { errMsg?: string; errno?: number }, retriesDone: number): void {
    const live = items.filter((it) => !it.done);
    const again = retriesDone < retries ? live.filter((it) => isRetryable(it.op)) : [];
    for (const it of live) if (!again.includes(it)) it.reject(networkError(err));
    if (!again.length) return;
    // The re-send waits in an Attempt of its own so that aborting every item also cancels the timer.
    const waiting: Attempt = { items: again, task: null, timer: null, settled: false };
    for (const it of again) it.attempt = waiting;
    waiting.timer = setTimeout(
      () => {
        waiting.settled = true;
        send(type, again, retriesDone + 1);
      },
      retryDelay(retriesDone + 1),
    );
  }

  function deliver(items: Item[], statusCode: number, raw: unknown, meta: WxResponseMeta): void {
    const body = jsonOrRaw(raw);
    items.forEach((it, index) => {
      if (it.done) return;
      let envelope: unknown;
      if (Array.isArray(body)) envelope = body.length === items.length ? body[index] : undefined;
      else if (isObject(body) && 'error' in body) envelope = body; // one error for the whole batch
      if (isObject(envelope) && ('error' in envelope || 'result' in envelope)) it.resolve(envelope, meta);
      else it.reject(unexpectedResponseError(statusCode, raw, meta));
    });
  }

  function abortItem(item: Item): void {
    if (item.done) return;
    item.done = true;
    const attempt = item.attempt;
    if (!attempt || attempt.settled || !attempt.items.every((it) => it.done)) return;
    // Only when every call sharing the request has gone is it worth cancelling.
    attempt.settled = true;
    if (attempt.timer) clearTimeout(attempt.timer);
    attempt.task?.abort();
  }

  return () =>
    ({ op }) =>
      observable((observer) => {
        if (op.type === 'subscription') {
          throw new Error('Subscriptions are not supported over wx.request');
        }
        const type: ItemType = op.type;
        const signal = op.signal as SignalLike | null | undefined;
        const meta = (m: WxResponseMeta) => m as Record<string, unknown>;

        let inputJSON: string | undefined;
        try {
          const serialized = transformer.serialize(op.input);
          inputJSON = serialized === undefined ? undefined : JSON.stringify(serialized);
        } catch (err) {
          observer.error(toClientError(err));
          return () => {};
        }

        const item: Item = {
          op,
          inputJSON,
          done: false,
          attempt: null,
          resolve(envelope, responseMeta) {
            if (item.done) return;
            item.done = true;
            cleanup();
            const env = envelope as { error?: unknown; result?: { data?: unknown } };
            try {
              if ('error' in env) {
                const error = transformer.deserialize(env.error);
                if (!isObject(error) || typeof error.code !== 'number') {
                  const status = responseMeta.response?.statusCode ?? 0;
                  observer.error(unexpectedResponseError(status, env, responseMeta));
                  return;
                }
                observer.error(TRPCClientError.from({ ...env, error }, { meta: meta(responseMeta) }));
                return;
              }
              const data = transformer.deserialize(env.result?.data);
              observer.next({ context: meta(responseMeta), result: { type: 'data', data } });
              observer.complete();
            } catch (err) {
              observer.error(toClientError(err, responseMeta));
            }
          },
          reject(err) {
            if (item.done) return;
            item.done = true;
            cleanup();
            observer.error(err);
          },
        };

        const onAbort = () => {
          if (item.done) return;
          abortItem(item);
          cleanup();
          observer.error(abortedError(signal?.reason));
        };
        const cleanup = () => signal?.removeEventListener('abort', onAbort);

        if (signal?.aborted) {
          item.done = true;
          observer.error(abortedError(signal.reason));
          return () => {};
        }
        signal?.addEventListener('abort', onAbort, { once: true });

        pending[type].push(item);
        if (dispatchTimer === null) dispatchTimer = setTimeout(dispatch, 0);

        return () => {
          cleanup();
          abortItem(item);
        };
      });
}
