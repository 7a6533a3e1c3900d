import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { trpcCodeForHttpStatus } from '../shared/http-status';
import { trpcCall, trpcErrorReply, type TrpcRootConfig } from './trpc-errors';
import { splitUrl } from './url';

/*
 * Garbage that Fastify refuses before tRPC runs (body over bodyLimit, unsupported content type,
 * malformed URL, unknown route) gets a clear 4xx — a tRPC error envelope on /trpc, so clients
 * decode it — and never a 500.
 */

const MAX_ECHO = 200;

/** What an error envelope needs: the router's configuration (transformer, error formatter) and the batch cap. */
export interface ErrorReplyOptions {
  trpcConfig: TrpcRootConfig;
  maxBatchSize: number;
}

export function sendError(
  req: FastifyRequest,
  reply: FastifyReply,
  opts: ErrorReplyOptions,
  status: number,
  message: string,
): FastifyReply {
  if (trpcCall(req.url)) {
    const out = trpcErrorReply(opts.trpcConfig, req.url, trpcCodeForHttpStatus(status), message, opts.maxBatchSize);
    return reply.code(out.status).type('application/json').send(out.body);
  }
  return reply.code(status).type('application/json').send({ ok: false, statusCode: status, message });
}

export function registerErrorHandlers(app: FastifyInstance, opts: ErrorReplyOptions): void {
  app.setNotFoundHandler((req, reply) => {
    const call = trpcCall(req.url);
    if (call?.batch && call.paths.length > opts.maxBatchSize) {
      return sendError(req, reply, opts, 400, `Batch call exceeds maximum size (${opts.maxBatchSize})`);
    }
    const pathname = splitUrl(req.url).path;
    return sendError(req, reply, opts, 404, `No such route: ${req.method} ${pathname.slice(0, MAX_ECHO)}`);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return sendError(req, reply, opts, 500, 'Internal server error');
    }
    // The client's mistake, told plainly (Fastify's messages name the limit or the content type).
    req.log.info({ code: err.code, statusCode: status }, err.message.slice(0, MAX_ECHO));
    return sendError(req, reply, opts, status, err.message.slice(0, MAX_ECHO));
  });
}
