import type { FastifyInstance } from 'fastify';

/*
 * Graceful shutdown needs every connection to end once its last request is answered. Node's
 * server.close() (and Fastify's forceCloseConnections: 'idle') only closes the connections idle at
 * that moment: one busy then stays open as keep-alive after its answer, until keepAliveTimeout
 * (72 s), so close() outlives the shutdown timeout and the process exits 1. From the moment close
 * begins, every answer therefore says `Connection: close`.
 */
export function registerConnectionDraining(app: FastifyInstance): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
}
