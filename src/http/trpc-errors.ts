import { getErrorShape, transformTRPCResponse, TRPCError, type TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { appRouter } from '../routers/_app';

/*
 * Some refusals happen in Fastify before tRPC sees the request (rate limit, body too large, wrong
 * content type, unknown route). They are still sent as tRPC error envelopes, so a stock tRPC client
 * decodes them as a TRPCClientError with the right code instead of choking on foreign JSON.
 */

export const TRPC_PREFIX = '/trpc';

/** The procedure paths of a tRPC URL (several, comma-joined, in a batch) and whether it is a batch. */
export function trpcCall(url: string): { paths: string[]; batch: boolean } | null {
  const queryAt = url.indexOf('?');
  const pathname = queryAt === -1 ? url : url.slice(0, queryAt);
  if (pathname !== TRPC_PREFIX && !pathname.startsWith(`${TRPC_PREFIX}/`)) return null;
  let joined = pathname.slice(TRPC_PREFIX.length + 1);
  try {
    joined = decodeURIComponent(joined);
  } catch {
    // A malformed escape: the path is refused anyway, keep it as sent.
  }
  const query = queryAt === -1 ? '' : url.slice(queryAt + 1);
  let batch = false;
  try {
    batch = new URLSearchParams(query).get('batch') === '1';
  } catch {
    batch = false;
  }
  return { paths: batch ? joined.split(',') : [joined], batch };
}

/** The tRPC code for an HTTP status Fastify chose; anything unlisted in 4xx reads as BAD_REQUEST. */
export function trpcCodeForStatus(status: number): TRPC_ERROR_CODE_KEY {
  const byStatus: Record<number, TRPC_ERROR_CODE_KEY> = {
    400: 'BAD_REQUEST',
    401: 'UNAUTHORIZED',
    403: 'FORBIDDEN',
    404: 'NOT_FOUND',
    405: 'METHOD_NOT_SUPPORTED',
    408: 'TIMEOUT',
    409: 'CONFLICT',
    412: 'PRECONDITION_FAILED',
    413: 'PAYLOAD_TOO_LARGE',
    415: 'UNSUPPORTED_MEDIA_TYPE',
    422: 'UNPROCESSABLE_CONTENT',
    429: 'TOO_MANY_REQUESTS',
    499: 'CLIENT_CLOSED_REQUEST',
    501: 'NOT_IMPLEMENTED',
    502: 'BAD_GATEWAY',
    503: 'SERVICE_UNAVAILABLE',
    504: 'GATEWAY_TIMEOUT',
  };
  return byStatus[status] ?? (status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR');
}

export interface TrpcErrorReply {
  status: number;
  body: unknown;
}

/**
 * The body tRPC itself would send for `code` on this URL: one envelope, or one per path for a batch.
 * A batch longer than `maxBatchSize` gets a single envelope, as tRPC answers an oversized batch, so
 * that a huge URL cannot make us write a huge answer.
 */
export function trpcErrorReply(url: string, code: TRPC_ERROR_CODE_KEY, message: string, maxBatchSize: number): TrpcErrorReply {
  const config = appRouter._def._config;
  const call = trpcCall(url) ?? { paths: [''], batch: false };
  const envelope = (path: string) => {
    const error = new TRPCError({ code, message });
    const shape = getErrorShape({ config, error, type: 'unknown', path, input: undefined, ctx: undefined });
    // Nothing ran yet: a stack trace would only describe this hook.
    const { stack: _stack, ...data } = shape.data as Record<string, unknown>;
    return { error: { ...shape, data } };
  };
  const first = envelope(call.paths[0] ?? '');
  const status = (first.error.data as { httpStatus?: number }).httpStatus ?? 500;
  const body =
    call.batch && call.paths.length <= maxBatchSize
      ? transformTRPCResponse(config, call.paths.map(envelope))
      : transformTRPCResponse(config, first);
  return { status, body };
}
