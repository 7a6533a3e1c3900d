/// <reference types="miniprogram-api-typings/types/wx/lib.wx.api" />
/*
 * Only the API half of miniprogram-api-typings is referenced: its index also declares `require`,
 * `module`, `console` and the timers as mini-program globals, which would clash with Node's types
 * for the server code compiled in the same program.
 */

/** The part of `wx` the client uses; tests pass a shim with the same shape. */
export type WxApi = Pick<WechatMiniprogram.Wx, 'request' | 'login' | 'getStorageSync' | 'setStorageSync' | 'removeStorageSync'> &
  // Only downloadExport and uploadImport need these: a `wx` without them still makes a client.
  Partial<Pick<WechatMiniprogram.Wx, 'downloadFile' | 'uploadFile'>>;

export type WxRequestOption = WechatMiniprogram.RequestOption;
export type WxRequestTask = WechatMiniprogram.RequestTask;

// The mini-program runtime provides `wx` as a global; this binding only types it.
declare const wx: WxApi | undefined;

/** The runtime's `wx`, or a clear error when there is none (and none was passed in). */
export function globalWx(): WxApi {
  if (typeof wx === 'undefined' || !wx) {
    throw new Error('scancode client: no global `wx` found; pass `wx` in the options');
  }
  return wx;
}
