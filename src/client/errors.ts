import { TRPCClientError } from '@trpc/client';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';

/** What a call's `context` / an error's `meta` carries about the HTTP exchange. */
export interface WxResponseMeta {
  response?: { statusCode: number; header: Record<string, string> };
}

// tRPC's own table (getStatusKeyFromCode) lives in a do-not-import entry; this is the same mapping.
const KEY_BY_HTTP_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  402: 'PAYMENT_REQUIRED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  408: 'TIMEOUT',
  409: 'CONFLICT',
  412: 'PRECONDITION_FAILED',
  413: 'PAYLOAD_TOO_LARGE',
  414: 'BAD_REQUEST',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  428: 'PRECONDITION_REQUIRED',
  429: 'TOO_MANY_REQUESTS',
  499: 'CLIENT_CLOSED_REQUEST',
  500: 'INTERNAL_SERVER_ERROR',
  501: 'NOT_IMPLEMENTED',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

export function codeKeyForHttpStatus(status: number): TRPC_ERROR_CODE_KEY {
  return KEY_BY_HTTP_STATUS[status] ?? (status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR');
}

function snippet(body: unknown): string {
  const text = typeof body === 'string' ? body : JSON.stringify(body) ?? '';
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}

/**
 * A response that is not a tRPC envelope (a proxy's HTML 502, a rate limiter's JSON, an empty
 * body) still becomes a TRPCClientError shaped like a server error, so callers can always read
 * `err.data.code` and `err.data.httpStatus`.
 */
export function unexpectedResponseError(statusCode: number, body: unknown, meta: WxResponseMeta): TRPCClientError<any> {
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

export function networkError(err: { errMsg?: string; errno?: number } | undefined): TRPCClientError<any> {
  const cause = new WxRequestError(err?.errMsg ?? 'request:fail', err?.errno);
  return new TRPCClientError(`Network request failed: ${cause.errMsg}`, { cause });
}

export function abortedError(reason?: unknown): TRPCClientError<any> {
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

export function toClientError(err: unknown, meta?: WxResponseMeta): TRPCClientError<any> {
  const cause = typeof err === 'object' && err !== null ? err : new Error(String(err));
  return TRPCClientError.from(cause, meta ? { meta: meta as Record<string, unknown> } : {});
}
