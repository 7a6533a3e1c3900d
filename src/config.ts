import { z } from 'zod';
import { DEFAULT_SQLITE_FILE } from './db/knex';

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * Every environment variable the server reads, with its default. Parsing the environment in one
 * place means a typo in production fails at start-up with a message, not at the first request.
 */
const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: intFrom(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || /^mysql2?:\/\//.test(v), {
      message: 'must be a mysql://user:pass@host:port/db URL (leave unset for the embedded SQLite file)',
    }),
  SQLITE_FILE: z.string().min(1).default(DEFAULT_SQLITE_FILE),
  DB_POOL_MAX: intFrom(1, 200).default(10),
  WECHAT_APPID: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined)),
  WECHAT_SECRET: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined)),
  WECHAT_API_BASE: z.url().default('https://api.weixin.qq.com'),
  WECHAT_TIMEOUT_MS: intFrom(100, 60_000).default(5000),
  SESSION_TTL_DAYS: z.coerce.number().positive().max(3650).default(30),
  LOGIN_RATE_LIMIT_MAX: intFrom(1, 1_000_000).default(20),
  LOGIN_RATE_LIMIT_WINDOW_MS: intFrom(1000, 86_400_000).default(60_000),
  RATE_LIMIT_MAX: intFrom(1, 10_000_000).default(600),
  MAX_BATCH_SIZE: intFrom(1, 1000).default(20),
  BODY_LIMIT_BYTES: intFrom(1024, 100 * 1024 * 1024).default(1024 * 1024),
  TRUST_PROXY: z
    .string()
    .optional()
    .transform((v): boolean | string | number => {
      if (v === undefined || v === '' || v === 'false' || v === '0') return false;
      if (v === 'true') return true;
      if (/^\d+$/.test(v)) return Number(v);
      return v; // a comma-separated list of trusted addresses / CIDRs
    }),
  SHUTDOWN_TIMEOUT_MS: intFrom(0, 600_000).default(10_000),
  REDIS_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    // The message never repeats the value: it may hold a password.
    .refine((v) => v === undefined || /^rediss?:\/\//.test(v), {
      message: 'must be a redis:// or rediss:// URL (leave unset for per-node limits)',
    }),
  METRICS_PORT: z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), intFrom(0, 65535).optional()),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
});

export type Env = z.input<typeof envSchema>;

export interface Config {
  nodeEnv: 'development' | 'test' | 'production';
  port: number;
  host: string;
  logLevel: string;
  database: { url?: string; sqliteFile: string; poolMax: number };
  wechat: { appId?: string; secret?: string; apiBase: string; timeoutMs: number };
  sessionTtlDays: number;
  loginRateLimit: { max: number; windowMs: number };
  rateLimitMax: number;
  maxBatchSize: number;
  bodyLimit: number;
  trustProxy: boolean | string | number;
  shutdownTimeoutMs: number;
  /** Shared rate-limit counts (every node); unset: counted in each process. */
  redisUrl?: string;
  /** Prometheus metrics on a listener of their own; port unset: off. */
  metrics: { port?: number; host: string };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration in the environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const hasAppId = e.WECHAT_APPID !== undefined;
  const hasSecret = e.WECHAT_SECRET !== undefined;
  if (hasAppId !== hasSecret) {
    throw new ConfigError('Set both WECHAT_APPID and WECHAT_SECRET, or neither (development login).');
  }
  if (e.NODE_ENV === 'production' && !hasAppId) {
    throw new ConfigError('WECHAT_APPID and WECHAT_SECRET are required when NODE_ENV=production: development login is refused.');
  }
  return {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    host: e.HOST,
    logLevel: e.LOG_LEVEL,
    database: { url: e.DATABASE_URL, sqliteFile: e.SQLITE_FILE, poolMax: e.DB_POOL_MAX },
    wechat: {
      appId: e.WECHAT_APPID,
      secret: e.WECHAT_SECRET,
      apiBase: e.WECHAT_API_BASE.replace(/\/+$/, ''),
      timeoutMs: e.WECHAT_TIMEOUT_MS,
    },
    sessionTtlDays: e.SESSION_TTL_DAYS,
    loginRateLimit: { max: e.LOGIN_RATE_LIMIT_MAX, windowMs: e.LOGIN_RATE_LIMIT_WINDOW_MS },
    rateLimitMax: e.RATE_LIMIT_MAX,
    maxBatchSize: e.MAX_BATCH_SIZE,
    bodyLimit: e.BODY_LIMIT_BYTES,
    trustProxy: e.TRUST_PROXY,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    redisUrl: e.REDIS_URL,
    metrics: { port: e.METRICS_PORT, host: e.METRICS_HOST },
  };
}

/** For the entry points (server, `npm run migrate`): a bad environment prints its message and exits 1. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
}

/** True when login must go through the development shortcut (no WeChat credentials). */
export function isDevLogin(config: Pick<Config, 'wechat'>): boolean {
  return !config.wechat.appId || !config.wechat.secret;
}
