import { createDecipheriv } from 'node:crypto';
import { TRPCError } from '@trpc/server';

/**
 * Decryption of WeChat's `encryptedData` (wx.getUserInfo and friends): AES-128-CBC, key = the
 * login's session_key, PKCS#7 padding. Node's own unpadding is switched off because it accepts
 * some malformed paddings and reports every failure the same way; checking it here lets the
 * mini-program developer tell "wrong session_key" from "corrupted data".
 */

const BLOCK = 16;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface DecryptInput {
  /** Base64 of 16 bytes, from jscode2session. */
  sessionKey: string;
  encryptedData: string;
  iv: string;
  /** Our WECHAT_APPID: the watermark must name it. */
  appId: string;
  /** The openid from jscode2session: the data must be about the same person. */
  openid: string;
}

/** The fields of a decrypted user-info payload we use; others are kept as they came. */
export interface DecryptedUserData {
  openId: string;
  unionId?: string;
  nickName?: string;
  avatarUrl?: string;
  gender?: number;
  city?: string;
  province?: string;
  country?: string;
  watermark: { appid: string; timestamp?: number };
  [key: string]: unknown;
}

function badRequest(message: string): TRPCError {
  return new TRPCError({ code: 'BAD_REQUEST', message });
}

function decodeBase64(value: string): Buffer | null {
  return BASE64.test(value) ? Buffer.from(value, 'base64') : null;
}

/** Strict PKCS#7: the last byte n is 1..16 and the last n bytes all equal n. */
export function stripPkcs7(data: Buffer): Buffer | null {
  if (data.length === 0 || data.length % BLOCK !== 0) return null;
  const n = data[data.length - 1] ?? 0;
  if (n < 1 || n > BLOCK) return null;
  for (let i = data.length - n; i < data.length; i++) {
    if (data[i] !== n) return null;
  }
  return data.subarray(0, data.length - n);
}

export function decryptUserData(input: DecryptInput): DecryptedUserData {
  const key = decodeBase64(input.sessionKey);
  if (!key || key.length !== BLOCK) {
    // The session_key comes from WeChat, not the client; its value is never part of a message.
    throw badRequest('encryptedData cannot be decrypted: this login has no valid session_key');
  }
  const iv = decodeBase64(input.iv);
  if (!iv || iv.length !== BLOCK) {
    throw badRequest('iv must be the base64 of 16 bytes, exactly as wx.getUserInfo returned it');
  }
  const ciphertext = decodeBase64(input.encryptedData);
  if (!ciphertext || ciphertext.length === 0 || ciphertext.length % BLOCK !== 0) {
    throw badRequest('encryptedData must be the base64 of whole 16-byte AES blocks, exactly as wx.getUserInfo returned it');
  }

  const decipher = createDecipheriv('aes-128-cbc', key, iv);
  decipher.setAutoPadding(false);
  const padded = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
  const plain = stripPkcs7(padded);
  if (!plain) {
    throw badRequest(
      'encryptedData does not decrypt with the session_key of this login (bad padding): fetch encryptedData and iv after the wx.login() whose code you send',
    );
  }

  let data: unknown;
  try {
    data = JSON.parse(plain.toString('utf8'));
  } catch {
    data = undefined;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw badRequest('encryptedData decrypts, but not to a JSON object: send encryptedData and iv unmodified');
  }
  const record = data as Record<string, unknown>;

  const watermark = record.watermark as { appid?: unknown } | undefined;
  if (typeof watermark !== 'object' || watermark === null || watermark.appid !== input.appId) {
    throw badRequest("encryptedData was issued for another mini-program (watermark.appid is not this server's WECHAT_APPID)");
  }
  if (record.openId !== input.openid) {
    throw badRequest('encryptedData belongs to another WeChat user (its openId differs from the one of this login code)');
  }
  return record as DecryptedUserData;
}
