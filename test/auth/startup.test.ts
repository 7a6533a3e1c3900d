import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, isDevLogin, loadConfig } from '../../src/config';
import { createTestDb, type TestDb } from '../helpers/db';
import { startServerProcess } from '../helpers/process';

describe('configuration of the login mode', () => {
  it('refuses production without WeChat credentials, or with only half of them', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/WECHAT_APPID and WECHAT_SECRET are required/);
    expect(() => loadConfig({ NODE_ENV: 'production', WECHAT_APPID: 'wx1' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'development', WECHAT_SECRET: 's' })).toThrow(/both/);
    const prod = loadConfig({ NODE_ENV: 'production', WECHAT_APPID: 'wx1', WECHAT_SECRET: 's' });
    expect(isDevLogin(prod)).toBe(false);
    expect(isDevLogin(loadConfig({ NODE_ENV: 'development' }))).toBe(true);
  });
});

// test/foundation/start.test.ts covers the production refusal and the presence of the warning.
describe('the server process and the login mode', () => {
  let tdb: TestDb;
  beforeAll(async () => {
    tdb = await createTestDb({ migrate: false });
  });
  afterAll(async () => {
    await tdb?.destroy();
  });

  const dbEnv = (): Record<string, string> => (tdb.url ? { DATABASE_URL: tdb.url } : { SQLITE_FILE: tdb.sqliteFile! });

  async function startupOutput(env: Record<string, string>): Promise<string> {
    const server = await startServerProcess({ ...dbEnv(), ...env });
    try {
      return server.output();
    } finally {
      expect(await server.stop('SIGTERM')).toBe(0);
    }
  }

  it('warns at start-up, as a warning, when development login is on', async () => {
    const output = await startupOutput({ NODE_ENV: 'development' });
    const line = output.split('\n').find((l) => l.includes('DEVELOPMENT LOGIN'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 40 });
  });

  it('does not warn when WeChat credentials are set, and never prints the secret', async () => {
    const output = await startupOutput({
      NODE_ENV: 'production',
      WECHAT_APPID: 'wx-start-appid',
      WECHAT_SECRET: 'start-secret-do-not-print',
    });
    expect(output).toMatch(/Server listening/);
    expect(output).not.toContain('DEVELOPMENT LOGIN');
    expect(output).not.toContain('start-secret-do-not-print');
  });
});
