import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newPhone, rejection } from './phone';

/*
 * What stands between a phone and the API is not always the API: a gateway's HTML error page, a
 * rate limiter's own JSON, an empty 503. A real HTTP server plays each of them here; every answer
 * must still arrive as a TRPCClientError with data.code and data.httpStatus.
 */
describe('mini-program client: responses that are not tRPC envelopes', () => {
  let server: Server;
  let base: string;
  const answers: Record<string, { status: number; type: string; body: string }> = {
    'bad-gateway': { status: 502, type: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1>nginx</body></html>' },
    'html-200': { status: 200, type: 'text/html', body: '<!doctype html><title>Captive portal</title>' },
    'rate-limiter': {
      status: 429,
      type: 'application/json',
      body: JSON.stringify({ statusCode: 429, error: 'Too Many Requests', message: 'Rate limit exceeded, retry in 1 minute' }),
    },
    'empty-503': { status: 503, type: 'text/plain', body: '' },
    'short-array': { status: 200, type: 'application/json', body: '[]' },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      const key = (req.url ?? '').split('/')[1] ?? '';
      const answer = answers[key] ?? { status: 404, type: 'text/plain', body: 'no such thing' };
      res.writeHead(answer.status, { 'content-type': answer.type });
      res.end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function callThrough(key: string) {
    const p = await newPhone({
      url: `${base}/${key}/trpc`,
      loginCode: () => {
        throw new Error('no login expected here');
      },
    });
    // Already logged in: the answers below are about transport, not sessions.
    p.shim.storage.set(p.lib.DEFAULT_TOKEN_KEY, 'a-stored-token');
    const err = await rejection(p.client.auth.me.query());
    expect(err).toBeInstanceOf(p.lib.TRPCClientError);
    expect(p.shim.requests).toHaveLength(1);
    expect(p.shim.logins).toBe(0);
    return err;
  }

  it('turns a gateway HTML 502 into BAD_GATEWAY', async () => {
    const err = await callThrough('bad-gateway');
    expect(err.data).toMatchObject({ code: 'BAD_GATEWAY', httpStatus: 502 });
    expect(err.message).toContain('HTTP 502');
    expect(err.message).toContain('502 Bad Gateway');
  });

  it('turns a non-tRPC 429 into TOO_MANY_REQUESTS', async () => {
    const err = await callThrough('rate-limiter');
    expect(err.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429 });
    expect(err.message).toContain('Rate limit exceeded');
  });

  it('turns an empty 503 into SERVICE_UNAVAILABLE', async () => {
    const err = await callThrough('empty-503');
    expect(err.data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', httpStatus: 503 });
  });

  it('refuses an HTTP 200 that is not a tRPC answer', async () => {
    const html = await callThrough('html-200');
    expect(html.data).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', httpStatus: 200 });
    expect(html.message).toContain('Captive portal');

    const short = await callThrough('short-array');
    expect(short.data).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', httpStatus: 200 });
  });

  it('turns an unknown 404 into NOT_FOUND', async () => {
    const err = await callThrough('nothing-here');
    expect(err.data).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404 });
  });
});
