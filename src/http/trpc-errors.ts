import { getErrorShape, transformTRPCResponse, TRPCError, type AnyTRPCRouter, type TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { splitUrl } from './url';

/** The root configuration of a tRPC router: its transformer and error formatter shape the envelopes. */
export type TrpcRootConfig = AnyTRPCRouter['_def']['_config'];

/*
 * Some refusals happen in Fastify before tRPC sees the request (rate limit, body too large, wrong
 * content type, unknown route). They are still sent as tRPC error envelopes, so a stock tRPC client
 * decodes them as a TRPCClientError with the right code instead of choking on foreign JSON.
 */

export const TRPC_PREFIX = '/trpc';

/** The procedure paths of a tRPC URL (several, comma-joined, in a batch) and whether it is a batch. */
export function trpcCall(url: string): { paths: string[]; batch: boolean } | null {
  const { path: pathname, query } = splitUrl(url);
  if (pathname !== TRPC_PREFIX && !pathname.startsWith(`${TRPC_PREFIX}/`)) return null;
  let joined = pathname.slice(TRPC_PREFIX.length + 1);
  try {
    joined = decodeURIComponent(joined);
  } catch {
    // A malformed escape: the path is refused anyway, keep it as sent.
  }
  let batch = false;
  try {
    batch = new URLSearchParams(query).get('batch') === '1';
  } catch {
    batch = false;
  }
  return { paths: batch ? joined.split(',') : [joined], batch };
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
export function trpcErrorReply(
  config: TrpcRootConfig,
  url: string,
  code: TRPC_ERROR_CODE_KEY,
  message: string,
  maxBatchSize: number,
): TrpcErrorReply {
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
