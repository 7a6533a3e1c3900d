import type { FastifyInstance } from 'fastify';
import type { Config } from '../config';
import { registerAccessLog } from './access-log';
import { registerConnectionDraining } from './drain';
import { registerErrorHandlers, type ErrorReplyOptions } from './errors';
import { registerRateLimit, type RateLimitStoreOptions } from './rate-limit';
import { registerRequestIds } from './request-id';
import { registerSecurityHeaders } from './security';

/**
 * The HTTP edge: request ids, the access log, security headers, the global rate limit, clear 4xx
 * for garbage, and connection draining on close. Call it right after creating the app, before any
 * route, so every route and plugin inherits it. The hooks run in this order: ids first (so even a refusal carries
 * one), then headers, then the limit.
 */
export async function registerHttpEdge(
  app: FastifyInstance,
  config: Pick<Config, 'rateLimitMax'> & ErrorReplyOptions & RateLimitStoreOptions,
): Promise<void> {
  registerRequestIds(app);
  registerAccessLog(app);
  registerSecurityHeaders(app);
  await registerRateLimit(app, config);
  registerErrorHandlers(app, config);
  registerConnectionDraining(app);
}
