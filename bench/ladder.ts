import { fastifyTRPCPlugin } from '@trpc/server/adapters/fastify';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { registerLoginRateLimit } from '../src/auth/rate-limit';
import type { Config } from '../src/config';
import { createDb, type Db } from '../src/db/knex';
import * as f from '../src/domain/fields';
import { registerHttpEdge } from '../src/http';
import { REDACTED_LOG_PATHS } from '../src/server';
import { contextFactory, protectedProcedure, publicProcedure, router } from '../src/trpc';

/*
 * Row L ("layers", only with --only L): where goods.scan's cost beyond the bare route goes. Each
 * rung adds one layer of the real server to the one before, built from the server's own parts:
 *   L0  Fastify with the server's logger settings, one route answering a constant Goods as JSON
 *   L1  + the HTTP edge (request ids, helmet, rate limits, error handlers)
 *   L2  + tRPC: a publicProcedure with goods.scan's zod input answering the constant (superjson)
 *   L2d L2 awaiting one trivial query through knex (`select 1`): the price of a round trip
 *   L3  + protectedProcedure: the session lookup (one indexed SELECT)
 * and then the real goods.scan (directory check + goods lookup through knex) is row 1's subject.
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

export async function buildLadder(config: Config): Promise<Record<'L0' | 'L1' | 'L2', FastifyInstance>> {
  const l0 = fastify(config);
  l0.get('/l/scan', async (_req, reply) => reply.type('application/json').send(constantBody));

  const l1 = fastify(config);
  await registerHttpEdge(l1, config);
  await registerLoginRateLimit(l1, config);
  l1.get('/l/scan', async (_req, reply) => reply.type('application/json').send(constantBody));

  const l2 = fastify(config);
  const db = createDb({ url: config.database.url, poolMax: config.database.poolMax });
  await registerHttpEdge(l2, config);
  await registerLoginRateLimit(l2, config);
  await l2.register(fastifyTRPCPlugin, {
    prefix: '/trpc',
    trpcOptions: { router: ladderRouter(db), createContext: contextFactory({ db, config, log: l2.log }), maxBatchSize: config.maxBatchSize },
  });
  l2.addHook('onClose', async () => {
    await db.destroy();
  });

  return { L0: l0, L1: l1, L2: l2 };
}
