import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { trpcCall, trpcCodeForStatus, trpcErrorReply } from './trpc-errors';

/*
 * Garbage that Fastify refuses before tRPC runs (body over bodyLimit, unsupported content type,
 * malformed URL, unknown route) gets a clear 4xx — a tRPC error envelope on /trpc, so clients
 * decode it — and never a 500.
 */

const MAX_ECHO = 200;

export function sendError(
  req: FastifyRequest,
  reply: FastifyReply,
  config: Pick<Config, 'maxBatchSize'>,
  status: number,
  message: string,
): FastifyReply {
  if (trpcCall(req.url)) {
    const out = trpcErrorReply(req.url, trpcCodeForStatus(status), message, config.maxBatchSize);
    return reply.code(out.status).type('application/json').send(out.body);
  }
  return reply.code(status).type('application/json').send({ ok: false, statusCode: status, message });
}

export function registerErrorHandlers(app: FastifyInstance, config: Pick<Config, 'maxBatchSize'>): void {
  app.setNotFoundHandler((req, reply) => {
    const call = trpcCall(req.url);
    if (call && call.batch && call.paths.length > config.maxBatchSize) {
      return sendError(req, reply, config, 400, `Batch call exceeds maximum size (${config.maxBatchSize})`);
    }
    const pathname = req.url.split('?', 1)[0] ?? '';
    return sendError(req, reply, config, 404, `No such route: ${req.method} ${pathname.slice(0, MAX_ECHO)}`);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) {
      req.log.error({ err }, 'request failed');
      return sendError(req, reply, config, 500, 'Internal server error');
    }
    // The client's mistake, told plainly (Fastify's messages name the limit or the content type).
    req.log.info({ code: err.code, statusCode: status }, err.message.slice(0, MAX_ECHO));
    return sendError(req, reply, config, status, err.message.slice(0, MAX_ECHO));
  });
}
