import { createTRPCClient, TRPCClientError, type TRPCClient } from '@trpc/client';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../routers/_app';
import { DEFAULT_IDEMPOTENT_MUTATIONS, requestIdLink } from './requestId';
import superjson from 'superjson';
import { registerFileTransport } from './files';
import { createLoginGate, sessionLink } from './sessionLink';
import { globalWx, type WxApi } from './wx';
import { wxLink, type WxLinkOptions } from './wxLink';

export const DEFAULT_TOKEN_KEY = 'scancode.sessionToken';

/** What `auth.login` answers: `{ token, expiresAt, isNew, user }`. */
export type LoginResult = inferRouterOutputs<AppRouter>['auth']['login'];

/** Optional profile data for `auth.login`, e.g. from `wx.getUserProfile`. */
export interface LoginExtras {
  encryptedData?: string;
  iv?: string;
}

export interface ScancodeClientOptions extends Omit<WxLinkOptions, 'getToken' | 'wx'> {
  /** The tRPC endpoint, e.g. `https://api.example.com/trpc`. */
  url: string;
  /** Defaults to the mini-program's global `wx`. */
  wx?: WxApi;
  /** Storage key for the session token. */
  tokenKey?: string;
  /** Mutations that get an automatic `requestId` (default: goods.stockIn, goods.stockOut). */
  idempotentMutations?: readonly string[];
  generateRequestId?: () => string;
  /** Called at each login to add encryptedData/iv to `auth.login`. */
  loginExtras?: () => LoginExtras | undefined | Promise<LoginExtras | undefined>;
  /** Called after each successful login (first login, or a new session after expiry). */
  onLogin?: (result: LoginResult) => void;
  /** wx.login `timeout`, in ms. */
  loginTimeout?: number;
  /**
   * Where the `/files/…` paths of exports and imports are (downloadExport, uploadImport); default:
   * `url` without its last segment, e.g. `https://api.example.com` for `https://api.example.com/trpc`.
   */
  filesUrl?: string;
}

export type ScancodeClient = TRPCClient<AppRouter>;

function wxLoginCode(wx: WxApi, timeout: number | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    wx.login({
      ...(timeout ? { timeout } : {}),
      success: (res: { code?: string; errMsg?: string }) => {
        if (res.code) resolve(res.code);
        else reject(new TRPCClientError(`wx.login gave no code: ${res.errMsg ?? 'unknown error'}`));
      },
      fail: (err: { errMsg?: string }) => reject(new TRPCClientError(`wx.login failed: ${err.errMsg ?? 'unknown error'}`)),
    });
  });
}

/**
 * The scancode API client for a mini-program: batching over wx.request, superjson, the session
 * token kept in storage, automatic (re-)login, and a requestId on every scan.
 */
export function createScancodeClient(options: ScancodeClientOptions): ScancodeClient {
  const {
    tokenKey = DEFAULT_TOKEN_KEY,
    idempotentMutations,
    generateRequestId,
    loginExtras,
    onLogin,
    loginTimeout,
    filesUrl,
    ...linkOptions
  } = options;
  const wx = options.wx ?? globalWx();

  const getToken = (): string | null => {
    const stored: unknown = wx.getStorageSync(tokenKey);
    return typeof stored === 'string' && stored ? stored : null;
  };

  const login = async (): Promise<void> => {
    const code = await wxLoginCode(wx, loginTimeout);
    const extras = loginExtras ? await loginExtras() : undefined;
    const result = await client.auth.login.mutate({ ...extras, code });
    if (typeof result?.token !== 'string') throw new TRPCClientError('auth.login answered without a token');
    wx.setStorageSync(tokenKey, result.token);
    onLogin?.(result);
  };

  // One login gate for the tRPC calls and the file uploads alike.
  const gate = createLoginGate(login);
  const client: ScancodeClient = createTRPCClient<AppRouter>({
    links: [
      requestIdLink({ paths: idempotentMutations ?? DEFAULT_IDEMPOTENT_MUTATIONS, generate: generateRequestId }),
      sessionLink({
        login,
        gate,
        hasToken: () => getToken() !== null,
        onLogout: () => wx.removeStorageSync(tokenKey),
      }),
      wxLink({ ...linkOptions, wx, getToken }),
    ],
  });
  registerFileTransport(client, {
    wx,
    filesBase: (filesUrl ?? options.url.replace(/\/+$/, '').replace(/\/[^/]*$/, '')).replace(/\/+$/, ''),
    getToken,
    gate,
    transformer: options.transformer ?? superjson,
  });
  return client;
}
