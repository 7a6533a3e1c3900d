import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

/*
 * Every request gets an id, bound by Fastify to every log line written through req.log and echoed
 * in the response. A sane incoming X-Request-Id (from a load balancer or the client) is kept, so
 * one id follows the request across systems; anything else is replaced, since it would land
 * verbatim in our logs.
 */

export const REQUEST_ID_HEADER = 'x-request-id';
const SANE_REQUEST_ID = /^[A-Za-z0-9][A-Za-z0-9._:=/+-]{0,127}$/;

export function requestIdFor(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && SANE_REQUEST_ID.test(value) ? value : randomUUID();
}

export function registerRequestIds(app: FastifyInstance): void {
  app.setGenReqId((raw) => requestIdFor(raw.headers[REQUEST_ID_HEADER]));
  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    done();
  });
}
