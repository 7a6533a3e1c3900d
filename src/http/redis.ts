import Redis from 'ioredis';

/*
 * The one Redis client of a server, for the rate limits shared by every node (REDIS_URL). A rate
 * limit must never make a request wait for Redis: no offline queue (a command while disconnected
 * fails at once instead of waiting for a reconnect), short connect and command timeouts, one retry
 * at most, and reconnecting in the background forever. The URL can hold a password: it is never
 * logged, and neither are ioredis's errors beyond their message.
 */

export interface RedisLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/** Reconnection attempts back off to this, so a Redis that stays down costs one attempt a second. */
const MAX_RECONNECT_DELAY_MS = 1000;

export function createRedisClient(url: string, log: RedisLog): Redis {
  const client = new Redis(url, {
    connectTimeout: 1000,
    commandTimeout: 250,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(50 * times, MAX_RECONNECT_DELAY_MS),
    // The limits' Lua scripts are defined per client by @fastify/rate-limit; nothing else to set up.
    lazyConnect: false,
  });
  let down = false;
  client.on('error', (err: Error) => {
    // ioredis emits one error per failed reconnection: say it once per outage.
    if (down) return;
    down = true;
    log.warn(
      { redis: 'error', message: err.message },
      'Redis is unreachable: rate limits fail open (login limit counted per node) until it is back',
    );
  });
  client.on('ready', () => {
    if (down) log.info({ redis: 'ready' }, 'Redis is reachable again: rate limits are shared again');
    down = false;
  });
  return client;
}

/** Resolves once the client is connected, or after `ms` (the server starts anyway, failing open). */
export function redisReady(client: Redis, ms: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    client.once('ready', done);
  });
}

/** Closes the connection without waiting for Redis to answer QUIT (it may be down). */
export function closeRedis(client: Redis): void {
  client.disconnect(false);
}
