import type { FastifyInstance, FastifyRequest } from 'fastify';
import { splitUrl } from './url';

/*
 * One log line per request, written once it is answered: the request (method, URL, host, remote
 * address), the status and the time taken, under the request's id. Fastify's own request logging
 * (turned off in buildServer) writes two lines per request, one on arrival and one on completion,
 * and each line is a write to the log's file descriptor: the second line cost more of a scan's CPU
 * than anything else left in the server (figures in bench/README.md).
 */

export function registerAccessLog(app: FastifyInstance): void {
  app.addHook('onResponse', (req, reply, done) => {
    req.log.info({ req, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    done();
  });
}

/** Query parameters that say how a request was made rather than what it carries. */
const SAFE_QUERY = /^(batch=[^&]*)$/;
/** A download link's path is its secret (`/files/<token>.xlsx` needs no session); uploads are not. */
const SECRET_PATH = /^(\/files\/)(?!imports$)[^?#]+/;

/**
 * The URL as a log line may show it. A tRPC query carries its input in the query string (an
 * invitation token for invite.preview, say), and a download link holds its token in the path:
 * neither may reach a log, so the input is dropped and a secret path segment is masked.
 */
export function loggableUrl(url: string): string {
  // Most URLs carry neither (a POSTed mutation, /healthz): nothing to rewrite.
  if (!url.includes('?') && !url.startsWith('/files/')) return url;
  const { path, query } = splitUrl(url);
  const shownPath = path.replace(SECRET_PATH, '$1[redacted]');
  const shownQuery = query
    .split('&')
    .map((part) => (part === '' || SAFE_QUERY.test(part) ? part : `${part.split('=', 1)[0]}=[redacted]`))
    .filter(Boolean)
    .join('&');
  return shownQuery ? `${shownPath}?${shownQuery}` : shownPath;
}

/** What the logger's request serializer receives: Fastify's request. */
type LoggedRequest = Pick<FastifyRequest, 'method' | 'url' | 'headers' | 'host' | 'ip' | 'socket'>;

/** Fastify's own request serializer, with the URL made loggable. */
export function serializeRequest(req: LoggedRequest) {
  return {
    method: req.method,
    url: loggableUrl(req.url),
    version: [req.headers['accept-version']].flat()[0],
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}
