import { TRPCClientError } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { trpcCodeForHttpStatus } from '../shared/http-status';

/** What a call's `context` / an error's `meta` carries about the HTTP exchange. */
export interface WxResponseMeta {
  response?: { statusCode: number; header: Record<string, string> };
}

/** Kept under its published name: the bundle has always exported it. */
export const codeKeyForHttpStatus = trpcCodeForHttpStatus;

function snippet(body: unknown): string {
  const text = typeof body === 'string' ? body : (JSON.stringify(body) ?? '');
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}

/**
 * A response that is not a tRPC envelope (a proxy's HTML 502, a rate limiter's JSON, an empty
 * body) still becomes a TRPCClientError shaped like a server error, so callers can always read
 * `err.data.code` and `err.data.httpStatus`.
 */
export function unexpectedResponseError(statusCode: number, body: unknown, meta: WxResponseMeta): TRPCClientError<AnyRouter> {
  const ok = statusCode >= 200 && statusCode < 300;
  const key = ok ? 'INTERNAL_SERVER_ERROR' : codeKeyForHttpStatus(statusCode);
  const message = ok
    ? `Unexpected response from the server (HTTP ${statusCode}): ${snippet(body)}`
    : `HTTP ${statusCode} without a tRPC error body: ${snippet(body)}`;
  return TRPCClientError.from(
    { error: { message, code: TRPC_ERROR_CODES_BY_KEY[key], data: { code: key, httpStatus: statusCode } } },
    { meta: meta as Record<string, unknown> },
  );
}

/** The request never produced a response: offline, DNS, TLS, timeout, or aborted. */
export class WxRequestError extends Error {
  override name = 'WxRequestError';
  constructor(
    readonly errMsg: string,
    readonly errno?: number,
  ) {
    super(errMsg);
  }
  get isTimeout(): boolean {
    return /timeout|timed out/i.test(this.errMsg);
  }
}

export function networkError(err: { errMsg?: string; errno?: number } | undefined): TRPCClientError<AnyRouter> {
  const cause = new WxRequestError(err?.errMsg ?? 'request:fail', err?.errno);
  return new TRPCClientError(`Network request failed: ${cause.errMsg}`, { cause });
}

export function abortedError(reason?: unknown): TRPCClientError<AnyRouter> {
  const cause = reason instanceof Error ? reason : new Error('This operation was aborted');
  if (!(reason instanceof Error)) cause.name = 'AbortError';
  return new TRPCClientError('The operation was aborted', { cause });
}

/** True when `err` (a TRPCClientError) came from a request that never got a response. */
export function isNetworkError(err: unknown): boolean {
  return err instanceof TRPCClientError && err.cause instanceof WxRequestError;
}

export function errorCode(err: unknown): string | undefined {
  const data = (err as { data?: { code?: unknown } } | null)?.data;
  return typeof data?.code === 'string' ? data.code : undefined;
}

export function toClientError(err: unknown, meta?: WxResponseMeta): TRPCClientError<AnyRouter> {
  const cause = typeof err === 'object' && err !== null ? err : new Error(String(err));
  return TRPCClientError.from(cause, meta ? { meta: meta as Record<string, unknown> } : {});
}

/**
 * A response body as JSON when it is JSON text, otherwise as it came: wx.request's dataType 'json'
 * and wx.uploadFile both hand back the raw text of a body that does not parse (an HTML error page).
 */
export function jsonOrRaw(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
