import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

/**
 * A `wx` for tests: `wx.request` performs real HTTP (node:http) with the mini-program's callback
 * contract — `success` for every HTTP status (4xx/5xx included), `fail` only when no response
 * arrived (refused, timeout, aborted), `complete` after either — and `wx.login` asks the fake WeChat
 * for a fresh code. Storage is a Map. Every request is recorded, so tests count round trips.
 */

export interface ShimRequestOption {
  url: string;
  method?: string;
  header?: Record<string, string>;
  data?: unknown;
  dataType?: string;
  responseType?: string;
  timeout?: number;
  success?: (res: ShimSuccess) => void;
  fail?: (err: { errMsg: string; errno: number }) => void;
  complete?: (res: unknown) => void;
}

export interface ShimSuccess {
  data: unknown;
  statusCode: number;
  header: Record<string, string>;
  cookies: string[];
  errMsg: string;
}

export interface RecordedRequest {
  url: string;
  method: string;
  header: Record<string, string>;
  /** The body as sent (POST), or undefined. */
  body: string | undefined;
  /** How the request ended. */
  outcome: 'pending' | 'success' | 'fail' | 'aborted' | 'dropped';
  statusCode?: number;
  /** The response body text, once received. */
  responseText?: string;
}

/** A scripted network failure for the next request matching `match`. */
export interface InjectedFailure {
  match: (req: RecordedRequest) => boolean;
  /**
   * `before-send`: the request never leaves the device.
   * `after-response`: the server handles it, then the response is lost (the worst case for a
   * non-idempotent write, and the reason for requestId).
   */
  mode: 'before-send' | 'after-response';
  errMsg?: string;
}

/** Milliseconds before a request leaves "the device": fixed, or chosen per request. */
export type Latency = number | ((req: RecordedRequest) => number);

export interface ShimDownloadOption {
  url: string;
  header?: Record<string, string>;
  success?: (res: { tempFilePath: string; statusCode: number; errMsg: string }) => void;
  fail?: (err: { errMsg: string; errno: number }) => void;
  complete?: (res: unknown) => void;
}

export interface ShimUploadOption {
  url: string;
  filePath: string;
  name: string;
  header?: Record<string, string>;
  formData?: Record<string, string>;
  success?: (res: { data: string; statusCode: number; errMsg: string }) => void;
  fail?: (err: { errMsg: string; errno: number }) => void;
  complete?: (res: unknown) => void;
}

/** One HTTP exchange for the file calls: the whole response body, or the network error. */
function exchange(
  url: string,
  method: string,
  headers: Record<string, string | number>,
  body: Buffer | undefined,
  done: (err: Error | null, res?: { statusCode: number; body: Buffer }) => void,
): () => void {
  const req = httpRequest(url, { method, headers }, (res) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => done(null, { statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    res.on('error', (err) => done(err));
  });
  req.on('error', (err) => done(err));
  if (body) req.write(body);
  req.end();
  return () => req.destroy();
}

export interface WxShimOptions {
  /** wx.login's code; default: a fresh code from the fake WeChat. */
  loginCode: () => string;
  /** Parses JSON in the realm of the code under test, as the mini-program runtime does. */
  parseJSON?: (text: string) => unknown;
  /** Delay before a request leaves "the device", so a test can abort it in flight. */
  latencyMs?: Latency;
}

export interface WxShim {
  wx: {
    request(option: ShimRequestOption): { abort(): void; onHeadersReceived(): void; offHeadersReceived(): void };
    login(option: {
      success?: (r: { code: string; errMsg: string }) => void;
      fail?: (e: { errMsg: string }) => void;
      complete?: () => void;
      timeout?: number;
    }): void;
    getStorageSync(key: string): unknown;
    setStorageSync(key: string, value: unknown): void;
    removeStorageSync(key: string): void;
    downloadFile(option: ShimDownloadOption): { abort(): void };
    uploadFile(option: ShimUploadOption): { abort(): void };
  };
  /** Every wx.downloadFile / wx.uploadFile, as sent. */
  transfers: RecordedRequest[];
  storage: Map<string, unknown>;
  requests: RecordedRequest[];
  /** How many times wx.login was called. */
  logins: number;
  /** How many RequestTask.abort() calls cancelled a request still in flight. */
  abortedTasks: number;
  /** Fails the next matching request(s), once each, in order. */
  injectFailure(failure: InjectedFailure): void;
  setLatency(latency: Latency): void;
  /** Requests whose URL path names `procedure`. */
  requestsFor(procedure: string): RecordedRequest[];
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

export function procedurePaths(url: string): string[] {
  const path = new URL(url).pathname;
  return decodeURIComponent(path.replace(/^.*\/trpc\//, '')).split(',');
}

export function createWxShim(opts: WxShimOptions): WxShim {
  const storage = new Map<string, unknown>();
  const requests: RecordedRequest[] = [];
  const failures: InjectedFailure[] = [];
  const parseJSON = opts.parseJSON ?? JSON.parse;
  let latency: Latency = opts.latencyMs ?? 0;

  const transfers: RecordedRequest[] = [];
  const shim: WxShim = {
    storage,
    requests,
    transfers,
    logins: 0,
    abortedTasks: 0,
    injectFailure(f) {
      failures.push(f);
    },
    setLatency(l) {
      latency = l;
    },
    requestsFor(procedure) {
      return requests.filter((r) => procedurePaths(r.url).includes(procedure));
    },
    wx: {
      request(option) {
        const method = (option.method ?? 'GET').toUpperCase();
        const header: Record<string, string> = { ...option.header };
        let url = option.url;
        let body: string | undefined;
        if (option.data !== undefined) {
          if (method === 'GET') {
            // wx.request turns GET data into query parameters.
            const q = Object.entries(option.data as Record<string, unknown>)
              .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
              .join('&');
            if (q) url += (url.includes('?') ? '&' : '?') + q;
          } else {
            body = typeof option.data === 'string' ? option.data : JSON.stringify(option.data);
          }
        }
        const record: RecordedRequest = { url, method, header, body, outcome: 'pending' };
        requests.push(record);

        const failureIndex = failures.findIndex((f) => f.match(record));
        const failure = failureIndex >= 0 ? failures.splice(failureIndex, 1)[0] : undefined;

        let settled = false;
        let destroy: (() => void) | null = null;
        let latencyTimer: NodeJS.Timeout | null = null;
        let timeoutTimer: NodeJS.Timeout | null = null;

        const finish = (outcome: RecordedRequest['outcome'], call: () => void) => {
          if (settled) return;
          settled = true;
          record.outcome = outcome;
          if (timeoutTimer) clearTimeout(timeoutTimer);
          // The runtime calls back asynchronously, never inside wx.request itself.
          setImmediate(() => {
            call();
            option.complete?.({});
          });
        };
        const fail = (outcome: RecordedRequest['outcome'], errMsg: string) =>
          finish(outcome, () => option.fail?.({ errMsg, errno: outcome === 'aborted' ? 1 : 600001 }));

        const send = () => {
          latencyTimer = null;
          if (settled) return;
          if (failure?.mode === 'before-send') {
            fail('fail', failure.errMsg ?? 'request:fail net::ERR_INTERNET_DISCONNECTED');
            return;
          }
          const req = httpRequest(
            url,
            { method, headers: { ...header, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) } },
            (res) => {
              const chunks: Buffer[] = [];
              res.on('data', (c: Buffer) => chunks.push(c));
              res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                record.statusCode = res.statusCode ?? 0;
                record.responseText = text;
                if (failure?.mode === 'after-response') {
                  fail('dropped', failure.errMsg ?? 'request:fail socket closed');
                  return;
                }
                let data: unknown = text;
                if ((option.dataType ?? 'json') === 'json') {
                  // Like the runtime: JSON when it parses, the raw text otherwise.
                  try {
                    data = parseJSON(text);
                  } catch {
                    data = text;
                  }
                }
                finish('success', () =>
                  option.success?.({
                    data,
                    statusCode: res.statusCode ?? 0,
                    header: flattenHeaders(res.headers),
                    cookies: [],
                    errMsg: 'request:ok',
                  }),
                );
              });
              res.on('error', (err) => fail('fail', `request:fail ${err.message}`));
            },
          );
          req.on('error', (err) => fail('fail', `request:fail ${err.message}`));
          destroy = () => req.destroy();
          if (body !== undefined) req.write(body);
          req.end();
        };

        timeoutTimer = setTimeout(() => {
          destroy?.();
          if (latencyTimer) clearTimeout(latencyTimer);
          fail('fail', 'request:fail timeout');
        }, option.timeout ?? 60_000);

        const latencyMs = typeof latency === 'function' ? latency(record) : latency;
        if (latencyMs > 0) latencyTimer = setTimeout(send, latencyMs);
        else setImmediate(send);

        return {
          abort() {
            if (settled) return;
            shim.abortedTasks++;
            if (latencyTimer) clearTimeout(latencyTimer);
            destroy?.();
            fail('aborted', 'request:fail abort');
          },
          onHeadersReceived() {},
          offHeadersReceived() {},
        };
      },

      login(option) {
        shim.logins++;
        let code: string;
        try {
          code = opts.loginCode();
        } catch (err) {
          setImmediate(() => {
            option.fail?.({ errMsg: `login:fail ${(err as Error).message}` });
            option.complete?.();
          });
          return;
        }
        setImmediate(() => {
          option.success?.({ code, errMsg: 'login:ok' });
          option.complete?.();
        });
      },

      getStorageSync(key) {
        // The runtime answers '' for a missing key.
        return storage.has(key) ? storage.get(key) : '';
      },
      setStorageSync(key, value) {
        storage.set(key, value);
      },
      removeStorageSync(key) {
        storage.delete(key);
      },

      // wx.downloadFile: the body goes to a temporary file; `success` for every HTTP status, as on a phone.
      downloadFile(option) {
        const header = { ...option.header };
        const record: RecordedRequest = { url: option.url, method: 'GET', header, body: undefined, outcome: 'pending' };
        transfers.push(record);
        const abort = exchange(option.url, 'GET', header, undefined, (err, res) => {
          setImmediate(() => {
            if (err || !res) {
              record.outcome = 'fail';
              option.fail?.({ errMsg: `downloadFile:fail ${err?.message ?? ''}`, errno: 600001 });
            } else {
              record.outcome = 'success';
              record.statusCode = res.statusCode;
              const tempFilePath = join(tmpdir(), `wxfile-tmp-${randomBytes(6).toString('hex')}`);
              writeFileSync(tempFilePath, res.body);
              option.success?.({ tempFilePath, statusCode: res.statusCode, errMsg: 'downloadFile:ok' });
            }
            option.complete?.({});
          });
        });
        return { abort };
      },

      // wx.uploadFile: a multipart/form-data POST of formData and the file; `data` is the body as text.
      uploadFile(option) {
        const boundary = `----wxshim${randomBytes(8).toString('hex')}`;
        const parts: Buffer[] = [];
        for (const [name, value] of Object.entries(option.formData ?? {})) {
          parts.push(Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
        }
        parts.push(
          Buffer.from(
            `--${boundary}\r\ncontent-disposition: form-data; name="${option.name}"; filename="${basename(option.filePath)}"\r\ncontent-type: application/octet-stream\r\n\r\n`,
          ),
          readFileSync(option.filePath),
          Buffer.from(`\r\n--${boundary}--\r\n`),
        );
        const body = Buffer.concat(parts);
        const header = { ...option.header };
        const record: RecordedRequest = { url: option.url, method: 'POST', header, body: undefined, outcome: 'pending' };
        transfers.push(record);
        const abort = exchange(
          option.url,
          'POST',
          { ...header, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length },
          body,
          (err, res) => {
            setImmediate(() => {
              if (err || !res) {
                record.outcome = 'fail';
                option.fail?.({ errMsg: `uploadFile:fail ${err?.message ?? ''}`, errno: 600001 });
              } else {
                record.outcome = 'success';
                record.statusCode = res.statusCode;
                record.responseText = res.body.toString('utf8');
                option.success?.({ data: record.responseText, statusCode: res.statusCode, errMsg: 'uploadFile:ok' });
              }
              option.complete?.({});
            });
          },
        );
        return { abort };
      },
    },
  };
  return shim;
}
