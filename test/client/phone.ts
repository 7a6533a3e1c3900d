import type { TRPCClientError } from '@trpc/client';
import type { AppRouter } from '../../src/routers/_app';
import type { ScancodeClient, ScancodeClientOptions } from '../../src/client/index';
import { createTestApp, type TestApp } from '../helpers/app';
import { startFakeWechat, type FakeWechat } from '../helpers/fake-wechat';
import { loadBundle, type ClientExports, type LoadedBundle } from './bundle';
import { createWxShim, type Latency, type WxShim } from './wx-shim';

/** One simulated phone: its own JS runtime with the built bundle, its own `wx` and storage. */
export interface Phone {
  bundle: LoadedBundle;
  lib: ClientExports;
  shim: WxShim;
  client: ScancodeClient;
  token(): string | undefined;
}

export interface PhoneOptions {
  /** The tRPC endpoint. */
  url: string;
  /** wx.login's code for each login. */
  loginCode: () => string;
  client?: Partial<ScancodeClientOptions>;
  latencyMs?: Latency;
}

export async function newPhone(opts: PhoneOptions): Promise<Phone> {
  const bundle = await loadBundle();
  const shim = createWxShim({ loginCode: opts.loginCode, parseJSON: bundle.parseJSON, latencyMs: opts.latencyMs });
  bundle.setWx(shim.wx);
  // No `wx` option: the bundle must find the runtime's global, as in a real mini-program.
  const client = bundle.exports.createScancodeClient({ url: opts.url, retryDelay: () => 20, ...opts.client });
  const tokenKey = opts.client?.tokenKey ?? bundle.exports.DEFAULT_TOKEN_KEY;
  return {
    bundle,
    lib: bundle.exports,
    shim,
    client,
    token: () => shim.storage.get(tokenKey) as string | undefined,
  };
}

export type ClientError = TRPCClientError<AppRouter>;

/** The error `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (err) {
    return err as ClientError;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** A Date from any realm (results are built inside the bundle's sandbox). */
export function isDate(value: unknown): boolean {
  return Object.prototype.toString.call(value) === '[object Date]';
}

export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The inputs of a batched POST body, in order (superjson's `json` part). */
export function postedInputs(body: string | undefined): Record<string, unknown>[] {
  const parsed = JSON.parse(body ?? '{}') as Record<string, { json: Record<string, unknown> }>;
  return Object.keys(parsed)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => parsed[k]!.json);
}

/** The server (with a fake WeChat) that phones talk to over real HTTP. */
export interface PhoneLab {
  fake: FakeWechat;
  t: TestApp;
  /** The tRPC endpoint. */
  url: string;
  /** A phone of its own WeChat user: every wx.login yields a code for the same openid, as on a real phone. */
  phone(opts?: Partial<PhoneOptions>): Promise<Phone>;
  close(): Promise<void>;
}

export async function startPhoneLab(): Promise<PhoneLab> {
  const fake = await startFakeWechat();
  // Every phone logs in from 127.0.0.1: lift the per-address login limit (session.test.ts tests it).
  const t = await createTestApp({ wechat: fake, env: { LOGIN_RATE_LIMIT_MAX: '1000' } });
  const url = `${await t.listen()}/trpc`;
  return {
    fake,
    t,
    url,
    phone(opts = {}) {
      const openid = `o-client-${Math.random().toString(36).slice(2)}`;
      return newPhone({ url, loginCode: () => fake.issueCode({ openid }).code, ...opts });
    },
    async close() {
      await t.close();
      await fake.close();
    },
  };
}
