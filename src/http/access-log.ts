import type { FastifyInstance, FastifyRequest } from 'fastify';

/*
 * One log line per request, written once it is answered: the request (method, URL, host, remote
 * address), the status and the time taken, under the request's id. Fastify's own request logging
 * (turned off in buildServer) writes two lines per request, one on arrival and one on completion,
 * and each line is a write to the log's file descriptor: at the production default LOG_LEVEL=info
 * the second line cost more of a scan's CPU than anything else left in the server (bench/README.md).
 */

/**
 * An export link's path is its secret (`/files/<token>.xlsx` downloads without a session), so it
 * never reaches a log line: whoever reads the logs within ten minutes could download the file.
 */
export function redactUrl(url: string): string {
  return url.replace(/^\/files\/(?!imports(?:[?#]|$))[^?#]*/, '/files/[redacted]');
}

/** What Fastify's request serializer reads, with the URL redacted. */
function loggedRequest(req: FastifyRequest) {
  return { method: req.method, url: redactUrl(req.url), headers: req.headers, host: req.host, ip: req.ip, socket: req.socket };
}

export function registerAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info(
      { req: req.url.startsWith('/files/') ? loggedRequest(req) : req, res: reply, responseTime: reply.elapsedTime },
      'request completed',
    );
    done();
  });
}
