import { TRPCError } from '@trpc/server';
import type { FastifyBaseLogger } from 'fastify';
import { ofetch } from 'ofetch';
import type { Config } from '../config';

/** What `jscode2session` tells us about the person behind a `wx.login()` code. */
export interface WechatIdentity {
  openid: string;
  /** Base64 of the 16-byte AES key for this login's encryptedData; never leaves the server. */
  sessionKey: string;
  unionid: string | null;
}

export type WechatCredentials = Required<Pick<Config['wechat'], 'appId' | 'secret'>> & Pick<Config['wechat'], 'apiBase' | 'timeoutMs'>;

type Logger = Pick<FastifyBaseLogger, 'warn'>;

const SESSION_KEY_PATTERN = /^[A-Za-z0-9+/]{22}==$/;
/** WeChat's errmsg ends with a request id ("rid: …") worth passing on; anything longer is noise. */
const MAX_ERRMSG_LENGTH = 200;

/** errcode → what the mini-program developer sees, and the tRPC code (API.md "Errors"). */
function errcodeError(errcode: number, errmsg: string): TRPCError {
  const detail = `(WeChat errcode ${errcode}${errmsg ? `: ${errmsg}` : ''})`;
  switch (errcode) {
    case 40029:
      return new TRPCError({
        code: 'UNAUTHORIZED',
        message: `WeChat does not recognise this login code ${detail}: call wx.login() again and send the new code, from the same mini-program as WECHAT_APPID`,
      });
    case 40163:
      return new TRPCError({
        code: 'UNAUTHORIZED',
        message: `This login code was already used ${detail}: a wx.login() code works once, call wx.login() again for every login`,
      });
    case 45011:
      return new TRPCError({
        code: 'TOO_MANY_REQUESTS',
        message: `WeChat is limiting login attempts for this user ${detail}: wait a minute before logging in again`,
      });
    case 40226:
      return new TRPCError({
        code: 'FORBIDDEN',
        message: `WeChat blocked the login of this high-risk user ${detail}`,
      });
    case -1:
      return new TRPCError({
        code: 'BAD_GATEWAY',
        message: `WeChat is busy ${detail}: retry the login in a moment with a new wx.login() code`,
      });
    default:
      return new TRPCError({
        code: 'BAD_GATEWAY',
        message: `WeChat refused the login ${detail}: retry with a new wx.login() code; if it persists, the server's WeChat configuration needs checking`,
      });
  }
}

function badGateway(message: string): TRPCError {
  return new TRPCError({ code: 'BAD_GATEWAY', message });
}

/** Keeps an errmsg short and free of anything we sent (the secret), whatever WeChat echoes back. */
function cleanErrmsg(value: unknown, secret: string): string {
  const text = typeof value === 'string' ? value : '';
  return text.split(secret).join('[redacted]').slice(0, MAX_ERRMSG_LENGTH);
}

function isTimeout(err: unknown): boolean {
  const e = err as { name?: string; cause?: { name?: string } } | undefined;
  return e?.name === 'TimeoutError' || e?.cause?.name === 'TimeoutError';
}

/**
 * Exchanges a `wx.login()` code at WeChat's `sns/jscode2session`. A code works once, so the call is
 * never retried. Errors are TRPCErrors whose messages never contain the secret or the session_key
 * (ofetch's own error messages contain the full URL, secret included, so they are never passed on).
 */
export async function jscode2session(wechat: WechatCredentials, code: string, log: Logger): Promise<WechatIdentity> {
  let status: number;
  let text: string;
  try {
    const res = await ofetch.raw<string, 'text'>(`${wechat.apiBase}/sns/jscode2session`, {
      method: 'GET',
      query: { appid: wechat.appId, secret: wechat.secret, js_code: code, grant_type: 'authorization_code' },
      timeout: wechat.timeoutMs,
      retry: 0,
      // WeChat sends JSON as text/plain; parse it ourselves so a broken body is our error to name.
      responseType: 'text',
      ignoreResponseError: true,
    });
    status = res.status;
    text = res._data ?? '';
  } catch (err) {
    if (isTimeout(err)) {
      log.warn({ timeoutMs: wechat.timeoutMs }, 'WeChat jscode2session timed out');
      throw new TRPCError({
        code: 'GATEWAY_TIMEOUT',
        message: `WeChat did not answer the login within ${wechat.timeoutMs} ms: retry with a new wx.login() code`,
      });
    }
    log.warn('WeChat jscode2session unreachable');
    throw badGateway('WeChat cannot be reached for login right now: retry in a moment with a new wx.login() code');
  }

  if (status < 200 || status >= 300) {
    log.warn({ status }, 'WeChat jscode2session answered with an HTTP error');
    throw badGateway(`WeChat answered the login with HTTP ${status}: retry in a moment with a new wx.login() code`);
  }

  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    log.warn({ status }, 'WeChat jscode2session answered with something that is not a JSON object');
    throw badGateway('WeChat answered the login with an unreadable response: retry in a moment with a new wx.login() code');
  }

  const errcode = typeof body.errcode === 'number' ? body.errcode : Number(body.errcode ?? 0);
  if (errcode !== 0) {
    const errmsg = cleanErrmsg(body.errmsg, wechat.secret);
    log.warn({ errcode, errmsg }, 'WeChat jscode2session refused the code');
    throw errcodeError(Number.isFinite(errcode) ? errcode : -2, errmsg);
  }

  const { openid, session_key: sessionKey, unionid } = body;
  if (typeof openid !== 'string' || openid.length === 0 || openid.length > 128) {
    log.warn('WeChat jscode2session answered without a usable openid');
    throw badGateway('WeChat answered the login without an openid: retry with a new wx.login() code');
  }
  if (typeof sessionKey !== 'string' || !SESSION_KEY_PATTERN.test(sessionKey)) {
    log.warn('WeChat jscode2session answered without a usable session_key');
    throw badGateway('WeChat answered the login without a valid session_key: retry with a new wx.login() code');
  }
  return {
    openid,
    sessionKey,
    unionid: typeof unionid === 'string' && unionid.length > 0 && unionid.length <= 128 ? unionid : null,
  };
}
