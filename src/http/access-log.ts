import type { FastifyInstance } from 'fastify';

/*
 * One log line per request, written once it is answered: the request (method, URL, host, remote
 * address), the status and the time taken, under the request's id. Fastify's own request logging
 * (turned off in buildServer) writes two lines per request, one on arrival and one on completion,
 * and each line is a write to the log's file descriptor: at the production default LOG_LEVEL=info
 * the second line cost more of a scan's CPU than anything else left in the server (bench/README.md).
 */
export function registerAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info({ req, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    done();
  });
}
