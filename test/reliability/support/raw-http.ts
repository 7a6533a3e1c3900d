import { request } from 'node:http';

/*
 * A bare HTTP/1.1 request, for what fetch will not send (or not send the same way): bodies that
 * keep streaming after the server has refused them, huge URLs, odd methods.
 */

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: unknown;
}

export interface RawRequest {
  method?: string;
  path: string;
  headers?: Record<string, string | number>;
  /** Sent as one buffer (with content-length unless given otherwise). */
  body?: string | Buffer;
  /** Sent chunk by chunk with Transfer-Encoding: chunked: the server cannot know the size up front. */
  chunks?: { size: number; count: number };
}

export function rawRequest(base: string, opts: RawRequest): Promise<RawResponse> {
  const url = new URL(base);
  const headers: Record<string, string | number> = { ...opts.headers };
  if (opts.body !== undefined && headers['content-length'] === undefined && headers['transfer-encoding'] === undefined) {
    // Node adds neither for DELETE or OPTIONS: the body would be read as the next request.
    headers['content-length'] = Buffer.byteLength(opts.body);
  }
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: opts.method ?? 'GET', path: opts.path, headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
        res.on('error', reject);
      },
    );
    // The server may answer (413) and close while we are still writing: that is the point.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') return reject(err);
      // Give the answer already on its way a moment to arrive; without one, the refusal was a reset.
      setTimeout(() => reject(err), 2000).unref();
    });
    if (opts.chunks) {
      const chunk = Buffer.alloc(opts.chunks.size, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < opts.chunks!.count) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.on('socket', () => pump());
    } else {
      req.end(opts.body);
    }
  });
}
