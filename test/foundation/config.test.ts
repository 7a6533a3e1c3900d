import { describe, expect, it } from 'vitest';
import { ConfigError, isDevLogin, loadConfig } from '../../src/config';
import { knexConfig, mysqlConnectionFromUrl } from '../../src/db/knex';

describe('loadConfig', () => {
  it('has the defaults API.md lists', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ port: 3000, host: '0.0.0.0', sessionTtlDays: 30, nodeEnv: 'development' });
    expect(c.database.url).toBeUndefined();
    expect(c.database.sqliteFile).toBe('./data/scancode.sqlite3');
    expect(c.wechat.apiBase).toBe('https://api.weixin.qq.com');
    expect(isDevLogin(c)).toBe(true);
  });

  it('rejects bad values with the variable name in the message', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/PORT/);
    expect(() => loadConfig({ DATABASE_URL: 'postgres://x/y' })).toThrow(/DATABASE_URL/);
    expect(() => loadConfig({ SESSION_TTL_DAYS: '-1' })).toThrow(/SESSION_TTL_DAYS/);
    expect(() => loadConfig({ WECHAT_APPID: 'wx1' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/required when NODE_ENV=production/);
  });

  it('accepts production with credentials and parses trustProxy', () => {
    const c = loadConfig({ NODE_ENV: 'production', WECHAT_APPID: 'wx1', WECHAT_SECRET: 's', TRUST_PROXY: '1' });
    expect(isDevLogin(c)).toBe(false);
    expect(c.trustProxy).toBe(1);
    expect(loadConfig({ TRUST_PROXY: '10.0.0.0/8' }).trustProxy).toBe('10.0.0.0/8');
    expect(loadConfig({}).trustProxy).toBe(false);
  });
});

describe('database settings', () => {
  it('parses mysql URLs, decoding credentials', () => {
    expect(mysqlConnectionFromUrl('mysql://u%40x:p%3Aw@db.local:3307/shop')).toEqual({
      host: 'db.local',
      port: 3307,
      user: 'u@x',
      password: 'p:w',
      database: 'shop',
    });
  });

  it('sets UTC, numeric ids and a pool that keeps no idle floor on MySQL', () => {
    const c = knexConfig({ url: 'mysql://root@127.0.0.1:3306/x' });
    expect(c.client).toBe('mysql2');
    expect(c.connection).toMatchObject({
      timezone: 'Z',
      dateStrings: false,
      supportBigNumbers: true,
      bigNumberStrings: false,
      charset: 'utf8mb4',
    });
    expect(c.pool).toMatchObject({ min: 0 });
  });
});
