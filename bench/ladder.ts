import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { registerLoginRateLimit } from '../src/auth/rate-limit';
import type { Config } from '../src/config';
import { createDb, type Db } from '../src/db/knex';
import * as f from '../src/domain/fields';
import { registerHttpEdge } from '../src/http';
import { registerTrpc, type TrpcTransport } from '../src/http/trpc-transport';
import { REDACTED_LOG_PATHS } from '../src/server';
import { contextFactory, protectedProcedure, publicProcedure, router } from '../src/trpc';

/*
 * Row L ("layers", only with --only L): where goods.scan's cost beyond the bare route goes. Each
 * rung adds one layer of the real server to the one before, built from the server's own parts:
 *   L0  Fastify with the server's logger settings, one route answering a constant Goods as JSON
 *   L1  + the HTTP edge (request ids, helmet, rate limits, error handlers)
 *   L2  + tRPC: a publicProcedure with goods.scan's zod input answering the constant (superjson),
 *       through the server's lean transport (src/http/trpc-transport.ts)
 *   L2f the same through tRPC's stock Fastify adapter (fetch Request/Response), for comparison
 *   L2d L2 awaiting one trivial query through knex (`select 1`): the price of a round trip
 *   L3  + protectedProcedure: the session lookup (one indexed SELECT)
 * and then the real goods.scan (one prepared statement: directory check + goods lookup) is row 1's subject.
 */

const GOODS = {
  id: 1,
  directoryId: 1,
  code: '6900001000001',
  name: '商品 000001',
  remarks: '',
  quantity: 1_000_000,
  createdAt: new Date('2026-01-01T00:00:00Z'),
  lastActiveAt: new Date('2026-01-01T00:00:00Z'),
};

const scanInput = z.object({ directoryId: f.id, code: f.code });

function ladderRouter(db: Db) {
  return router({
    ping: publicProcedure.input(scanInput).query(() => GOODS),
    pingDb: publicProcedure.input(scanInput).query(async () => {
      await db.raw('select 1');
      return GOODS;
    }),
    whoami: protectedProcedure.input(scanInput).query(() => GOODS),
  });
}

function fastify(config: Config): FastifyInstance {
  return Fastify({
    logger: { level: config.logLevel, redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' } },
    bodyLimit: config.bodyLimit,
    routerOptions: { maxParamLength: 5000 },
    forceCloseConnections: 'idle',
  });
}

const constantBody = JSON.stringify({
  result: { data: { json: { ...GOODS, createdAt: GOODS.createdAt.toISOString(), lastActiveAt: GOODS.lastActiveAt.toISOString() } } },
});

export async function buildLadder(config: Config): Promise<Record<'L0' | 'L1' | 'L2' | 'L2f', FastifyInstance>> {
  const l0 = fastify(config);
  l0.get('/l/scan', async (_req, reply) => reply.type('application/json').send(constantBody));

  const l1 = fastify(config);
  await registerHttpEdge(l1, config);
  await registerLoginRateLimit(l1, config);
  l1.get('/l/scan', async (_req, reply) => reply.type('application/json').send(constantBody));

  const db = createDb({ url: config.database.url, poolMax: config.database.poolMax });
  const withTrpc = async (transport: TrpcTransport) => {
    const app = fastify(config);
    await registerHttpEdge(app, config);
    await registerLoginRateLimit(app, config);
    await registerTrpc(app, {
      prefix: '/trpc',
      router: ladderRouter(db),
      createContext: contextFactory({ db, config, log: app.log }),
      maxBatchSize: config.maxBatchSize,
      transport,
    });
    return app;
  };
  const l2 = await withTrpc('lean');
  const l2f = await withTrpc('fetch');
  l2.addHook('onClose', async () => {
    await db.destroy();
  });

  return { L0: l0, L1: l1, L2: l2, L2f: l2f };
}
