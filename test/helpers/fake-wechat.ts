import { createCipheriv, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for api.weixin.qq.com as a real HTTP server on loopback. It implements
 * `GET /sns/jscode2session` closely enough to exercise every branch of our client: issued codes
 * work once (then 40163), unknown codes get 40029, and scripted codes return any errcode, an HTTP
 * 500, a delay or a hang.
 */
export interface IssuedCode {
  code: string;
  openid: string;
  sessionKey: string;
  unionid?: string;
}

export type Scripted =
  | { errcode: number; errmsg?: string }
  | { status: number; body?: string }
  | { hang: true }
  | { delayMs: number; then?: Scripted };

export interface FakeWechat {
  url: string;
  appId: string;
  secret: string;
  /** Every jscode2session query string received, in order. */
  calls: URLSearchParams[];
  issueCode(opts?: { openid?: string; unionid?: string; sessionKey?: string }): IssuedCode;
  /** `code` answers with `behaviour` (every time it is used). */
  script(code: string, behaviour: Scripted): void;
  close(): Promise<void>;
}

export async function startFakeWechat(opts: { appId?: string; secret?: string } = {}): Promise<FakeWechat> {
  const appId = opts.appId ?? 'wx-test-appid';
  const secret = opts.secret ?? 'test-app-secret';
  const codes = new Map<string, IssuedCode & { used: boolean }>();
  const scripted = new Map<string, Scripted>();
  const calls: URLSearchParams[] = [];
  const hanging = new Set<ServerResponse>();

  const json = (res: ServerResponse, body: unknown, status = 200) => {
    // WeChat answers with text/plain even for JSON; our client must cope.
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(JSON.stringify(body));
  };

  const answer = (res: ServerResponse, behaviour: Scripted): void => {
    if ('hang' in behaviour) {
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      return;
    }
    if ('delayMs' in behaviour) {
      const timer = setTimeout(() => answer(res, behaviour.then ?? { errcode: -1, errmsg: 'system error' }), behaviour.delayMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }
    if ('status' in behaviour) {
      res.writeHead(behaviour.status, { 'content-type': 'text/html' });
      res.end(behaviour.body ?? '<html><body>502 Bad Gateway</body></html>');
      return;
    }
    json(res, { errcode: behaviour.errcode, errmsg: behaviour.errmsg ?? `error ${behaviour.errcode}` });
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (req.method !== 'GET' || url.pathname !== '/sns/jscode2session') {
      json(res, { errcode: 404, errmsg: 'not found' }, 404);
      return;
    }
    const q = url.searchParams;
    calls.push(q);
    if (q.get('appid') !== appId) return json(res, { errcode: 40013, errmsg: 'invalid appid' });
    if (q.get('secret') !== secret) return json(res, { errcode: 40125, errmsg: 'invalid appsecret' });
    if (q.get('grant_type') !== 'authorization_code') return json(res, { errcode: 40002, errmsg: 'invalid grant_type' });
    const code = q.get('js_code') ?? '';
    const behaviour = scripted.get(code);
    if (behaviour) return answer(res, behaviour);
    const issued = codes.get(code);
    if (!issued) return json(res, { errcode: 40029, errmsg: 'invalid code' });
    if (issued.used) return json(res, { errcode: 40163, errmsg: 'code been used' });
    issued.used = true;
    json(res, {
      openid: issued.openid,
      session_key: issued.sessionKey,
      ...(issued.unionid ? { unionid: issued.unionid } : {}),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    appId,
    secret,
    calls,
    issueCode(o = {}) {
      const issued: IssuedCode = {
        code: randomBytes(16).toString('hex'),
        openid: o.openid ?? `o${randomBytes(12).toString('base64url')}`,
        sessionKey: o.sessionKey ?? randomBytes(16).toString('base64'),
        ...(o.unionid ? { unionid: o.unionid } : {}),
      };
      codes.set(issued.code, { ...issued, used: false });
      return issued;
    },
    script(code, behaviour) {
      scripted.set(code, behaviour);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Encrypts `payload` the way WeChat encrypts user info for a login: AES-128-CBC, key = the base64
 * session_key, PKCS#7 padding. `pad` replaces the padding step, to build malformed data.
 */
export function encryptUserData(
  sessionKey: string,
  payload: unknown,
  opts: { iv?: Buffer; pad?: (plain: Buffer) => Buffer } = {},
): { encryptedData: string; iv: string } {
  const iv = opts.iv ?? randomBytes(16);
  const plain = Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload), 'utf8');
  const padded = opts.pad ? opts.pad(plain) : Buffer.concat([plain, Buffer.alloc(16 - (plain.length % 16), 16 - (plain.length % 16))]);
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  cipher.setAutoPadding(false);
  const encrypted = Buffer.concat([cipher.update(padded), cipher.final()]);
  return { encryptedData: encrypted.toString('base64'), iv: iv.toString('base64') };
}

/** The user info WeChat would encrypt for `openid` of `appId` (wx.getUserInfo's shape). */
export function userInfoPayload(appId: string, openid: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    openId: openid,
    nickName: '小明',
    gender: 1,
    language: 'zh_CN',
    city: 'Guangzhou',
    province: 'Guangdong',
    country: 'China',
    avatarUrl: 'https://thirdwx.qlogo.cn/mmopen/vi_32/abc/132',
    watermark: { timestamp: 1_700_000_000, appid: appId },
    ...extra,
  };
}
