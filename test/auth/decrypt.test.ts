import { createCipheriv } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { decryptUserData, stripPkcs7, type DecryptInput } from '../../src/auth/decrypt';
import { encryptUserData, userInfoPayload } from '../helpers/fake-wechat';

// Fixed keys and iv: AES is deterministic, so every case below fails (or passes) the same way each run.
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex').toString('base64');
const OTHER_KEY = Buffer.from('f0e0d0c0b0a090807060504030201000', 'hex').toString('base64');
const IV = Buffer.from('a1a2a3a4a5a6a7a8a9aaabacadaeafb0', 'hex');
const APPID = 'wx1234567890abcdef';
const OPENID = 'oUser-123';

function input(overrides: Partial<DecryptInput> & { payload?: unknown } = {}): DecryptInput {
  const { payload, ...rest } = overrides;
  const enc = encryptUserData(KEY, payload ?? userInfoPayload(APPID, OPENID), { iv: IV });
  return { sessionKey: KEY, appId: APPID, openid: OPENID, ...enc, ...rest };
}

function failure(fn: () => unknown): TRPCError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TRPCError);
    return err as TRPCError;
  }
  throw new Error('expected a failure');
}

describe('decryptUserData', () => {
  it('decrypts user info encrypted with the session_key', () => {
    const data = decryptUserData(input());
    expect(data).toMatchObject({
      openId: OPENID,
      nickName: '小明',
      gender: 1,
      city: 'Guangzhou',
      watermark: { appid: APPID },
    });
  });

  it("matches an independent encryption done with Node's own PKCS#7 padding", () => {
    const plain = JSON.stringify(userInfoPayload(APPID, OPENID, { unionId: 'u-1' }));
    const cipher = createCipheriv('aes-128-cbc', Buffer.from(KEY, 'base64'), IV);
    const encryptedData = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]).toString('base64');
    const data = decryptUserData({ sessionKey: KEY, appId: APPID, openid: OPENID, encryptedData, iv: IV.toString('base64') });
    expect(data.unionId).toBe('u-1');
  });

  it('accepts a plaintext that fills whole blocks (a full block of padding)', () => {
    // 80 bytes of JSON → 16 bytes of 0x10 padding.
    const payload = { openId: OPENID, watermark: { appid: APPID }, p: '' };
    const len = JSON.stringify(payload).length;
    payload.p = 'x'.repeat(80 - len);
    expect(JSON.stringify(payload).length).toBe(80);
    expect(decryptUserData(input({ payload })).openId).toBe(OPENID);
  });

  it('refuses data encrypted with another session_key', () => {
    const err = failure(() => decryptUserData(input({ sessionKey: OTHER_KEY })));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/does not decrypt with the session_key/);
  });

  it('refuses malformed PKCS#7 padding', () => {
    const cases: Array<(plain: Buffer) => Buffer> = [
      // No padding: JSON whitespace up to the block boundary, so the last byte is 0x20 or '}'.
      (p) => Buffer.concat([p, Buffer.alloc((16 - (p.length % 16)) % 16, 0x20)]),
      // A zero pad byte.
      (p) => Buffer.concat([p, Buffer.alloc(16 - (p.length % 16), 0)]),
      // A full block that claims 16 bytes of padding but holds 15s.
      (p) => Buffer.concat([p, Buffer.alloc((16 - (p.length % 16)) % 16, 0x20), Buffer.alloc(15, 15), Buffer.from([16])]),
    ];
    for (const pad of cases) {
      const enc = encryptUserData(KEY, userInfoPayload(APPID, OPENID), { iv: IV, pad });
      const err = failure(() => decryptUserData({ sessionKey: KEY, appId: APPID, openid: OPENID, ...enc }));
      expect(err.code).toBe('BAD_REQUEST');
      expect(err.message).toMatch(/bad padding/);
    }
  });

  it('refuses a plaintext that is not JSON', () => {
    const err = failure(() => decryptUserData(input({ payload: 'hello, not json' })));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/not to a JSON object/);
    const arr = failure(() => decryptUserData(input({ payload: '[1,2,3]' })));
    expect(arr.message).toMatch(/not to a JSON object/);
  });

  it('refuses data whose watermark names another mini-program, or has no watermark', () => {
    const err = failure(() => decryptUserData(input({ payload: userInfoPayload('wxOTHERAPP', OPENID) })));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/watermark\.appid/);
    const none = failure(() => decryptUserData(input({ payload: { openId: OPENID } })));
    expect(none.message).toMatch(/watermark\.appid/);
  });

  it('refuses data about another WeChat user', () => {
    const err = failure(() => decryptUserData(input({ payload: userInfoPayload(APPID, 'oSomeoneElse') })));
    expect(err.code).toBe('BAD_REQUEST');
    expect(err.message).toMatch(/openId differs/);
  });

  it('refuses an iv or encryptedData that is not base64 of the right size', () => {
    const good = input();
    for (const iv of ['', 'not base64!!', Buffer.alloc(15).toString('base64'), Buffer.alloc(32).toString('base64')]) {
      const err = failure(() => decryptUserData({ ...good, iv }));
      expect(err.code).toBe('BAD_REQUEST');
      expect(err.message).toMatch(/^iv must be/);
    }
    for (const encryptedData of ['', '%%%%', Buffer.alloc(15).toString('base64'), Buffer.alloc(33).toString('base64')]) {
      const err = failure(() => decryptUserData({ ...good, encryptedData }));
      expect(err.code).toBe('BAD_REQUEST');
      expect(err.message).toMatch(/^encryptedData must be the base64/);
    }
  });

  it('never puts the session_key into a message', () => {
    const messages = [
      failure(() => decryptUserData(input({ sessionKey: OTHER_KEY }))).message,
      failure(() => decryptUserData(input({ payload: 'nope' }))).message,
      failure(() => decryptUserData(input({ sessionKey: 'short' }))).message,
    ];
    for (const m of messages) {
      expect(m).not.toContain(KEY);
      expect(m).not.toContain(OTHER_KEY);
      expect(m).not.toContain('short');
    }
  });
});

describe('stripPkcs7', () => {
  it('strips 1..16 bytes of valid padding and nothing else', () => {
    for (let n = 1; n <= 16; n++) {
      const data = Buffer.concat([Buffer.alloc(32 - n, 0x41), Buffer.alloc(n, n)]);
      expect(stripPkcs7(data)?.length).toBe(32 - n);
    }
    expect(stripPkcs7(Buffer.alloc(0))).toBeNull();
    expect(stripPkcs7(Buffer.alloc(15, 1))).toBeNull();
    expect(stripPkcs7(Buffer.alloc(16, 17))).toBeNull();
    expect(stripPkcs7(Buffer.concat([Buffer.alloc(13, 0x41), Buffer.from([3, 2, 3])]))).toBeNull();
  });
});
