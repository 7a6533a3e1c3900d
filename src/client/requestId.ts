import type { TRPCLink } from '@trpc/client';
import type { AnyRouter } from '@trpc/server';

/** Mutations whose input takes a `requestId` the server deduplicates on (see API.md). */
export const DEFAULT_IDEMPOTENT_MUTATIONS: readonly string[] = [
  'goods.stockIn',
  'goods.stockOut',
  'goods.adjust',
  'goods.transfer',
  'stocktake.count',
  'stocktake.complete',
];

function randomHex(length: number): string {
  let out = '';
  while (out.length < length)
    out += Math.floor(Math.random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  return out.slice(0, length);
}

/**
 * A request id unique enough for one user's scans: a millisecond time component plus 64 random
 * bits. `crypto.randomUUID` does not exist in mini-programs; ids only need to differ between one
 * user's calls, since the server scopes them to the user.
 */
export function createRequestId(now: () => number = Date.now): string {
  return `${now().toString(36)}-${randomHex(16)}`;
}

export interface RequestIdLinkOptions {
  paths?: readonly string[];
  generate?: () => string;
}

/**
 * Gives each listed mutation a `requestId` (unless the caller chose one) before anything below can
 * repeat it: the re-login retry and the network retry then resend the same id, and the server
 * answers the repeat with the first result instead of counting the scan twice.
 */
export function requestIdLink<TRouter extends AnyRouter = AnyRouter>(opts: RequestIdLinkOptions = {}): TRPCLink<TRouter> {
  const paths = opts.paths ?? DEFAULT_IDEMPOTENT_MUTATIONS;
  const generate = opts.generate ?? (() => createRequestId());
  return () =>
    ({ op, next }) => {
      const input = op.input;
      const needsId =
        op.type === 'mutation' &&
        paths.includes(op.path) &&
        typeof input === 'object' &&
        input !== null &&
        !Array.isArray(input) &&
        (input as { requestId?: unknown }).requestId === undefined;
      return next(needsId ? { ...op, input: { ...(input as object), requestId: generate() } } : op);
    };
}
