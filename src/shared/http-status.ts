import type { TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';

/*
 * The tRPC code for an HTTP status that arrived without a tRPC envelope: the server uses it for
 * refusals Fastify makes before tRPC runs, the mini-program bundle for a gateway's answer. tRPC's
 * own table (getStatusKeyFromCode) lives in an entry it asks not to import. This file must import
 * nothing at run time: the client bundle includes it.
 */
const CODE_BY_HTTP_STATUS: Readonly<Record<number, TRPC_ERROR_CODE_KEY>> = {
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

/** Unlisted 4xx statuses read as BAD_REQUEST, anything else as INTERNAL_SERVER_ERROR. */
export function trpcCodeForHttpStatus(status: number): TRPC_ERROR_CODE_KEY {
  return CODE_BY_HTTP_STATUS[status] ?? (status >= 400 && status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR');
}
