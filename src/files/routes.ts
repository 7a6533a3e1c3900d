import { PassThrough } from 'node:stream';
import multipart from '@fastify/multipart';
import { TRPCError } from '@trpc/server';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { lookupSession } from '../auth/sessions';
import type { Db } from '../db/knex';
import { authorizeDirectory } from '../directory/directories';
import { trpcCodeForHttpStatus } from '../shared/http-status';
import { trpcErrorReply } from '../http/trpc-errors';
import type { ErrorReplyOptions } from '../http/errors';
import { SESSION_HEADER } from '../trpc';
import { contentDisposition, openExport } from './export';
import { planImport } from './import';
import { FileRefusal, MAX_IMPORT_BYTES, readSpreadsheet } from './import-read';
import { CONTENT_TYPES } from './sheet-writer';

/*
 * The two HTTP routes spreadsheets travel on, outside tRPC because wx.downloadFile and
 * wx.uploadFile move files, not JSON (API.md "export and import"):
 *
 *   GET  /files/<token>.<xlsx|csv>  an export link made by export.create; no session header.
 *   POST /files/imports             multipart/form-data: `file` and `directoryId`; X-Session-Token.
 *
 * They live in a scope of their own: @fastify/multipart's body parser is registered here only, so
 * the tRPC scope keeps its own handling of form data. Every refusal is a tRPC error envelope (the
 * client decodes it like any other call's error), with the matching 4xx status.
 */

export interface FilesRouteOptions extends ErrorReplyOptions {
  db: Db;
  now: () => Date;
}

const MAX_FIELD_BYTES = 1024;

/** The client's file name (wx.uploadFile sends a temporary path's name; the app may send the real one as a field). */
const MAX_FILENAME = 200;

export async function registerFiles(app: FastifyInstance, opts: FilesRouteOptions): Promise<void> {
  const refuse = (req: FastifyRequest, reply: FastifyReply, status: number, message: string) => {
    const out = trpcErrorReply(opts.trpcConfig, req.url, trpcCodeForHttpStatus(status), message, opts.maxBatchSize);
    return reply.code(status).type('application/json').send(out.body);
  };

  await app.register((scope, _opts, done) => {
    // Queued by Fastify before the routes below are ready; nothing to await here.
    void scope.register(multipart, {
      // Enforced while the upload streams in: busboy stops reading the file past the limit.
      limits: { fileSize: MAX_IMPORT_BYTES, files: 1, fields: 4, fieldSize: MAX_FIELD_BYTES, parts: 6, headerPairs: 50 },
      throwFileSizeLimit: true,
    });

    scope.setErrorHandler((err: FastifyError, req, reply) => {
      const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status >= 500) {
        req.log.error({ err }, 'files route failed');
        return refuse(req, reply, 500, 'Internal server error');
      }
      return refuse(req, reply, status, err.message.slice(0, 200));
    });

    scope.get('/files/:file', async (req, reply) => {
      const { file } = req.params as { file: string };
      const opened = await openExport(opts.db, file, opts.now());
      if (!opened) return refuse(req, reply, 404, 'This download link is unknown or has expired: export again');
      const out = new PassThrough();
      opened.write(out).catch((err: unknown) => {
        // Headers are gone already: all that is left is to cut the download short, so that the
        // phone sees a failed download rather than a truncated file it believes complete.
        req.log.error({ err }, 'export failed while streaming');
        out.destroy(err instanceof Error ? err : new Error(String(err)));
      });
      return reply
        .header('content-type', CONTENT_TYPES[opened.format])
        .header('content-disposition', contentDisposition(opened.filename, opened.asciiFilename))
        .header('cache-control', 'private, no-store')
        .send(out);
    });

    scope.post('/files/imports', async (req, reply) => {
      const token = req.headers[SESSION_HEADER];
      const session = typeof token === 'string' && token ? await lookupSession(opts.db, token, opts.now()) : null;
      if (session?.status !== 'ok') {
        return refuse(req, reply, 401, 'Missing or invalid X-Session-Token: log in with auth.login first');
      }
      const user = session.session.user;
      if (!req.isMultipart()) return refuse(req, reply, 415, 'Send multipart/form-data with a `file` part and a `directoryId` field');

      let file: Buffer | null = null;
      let partName = '';
      const fields: Record<string, string> = {};
      for await (const part of req.parts()) {
        if (part.type === 'file') {
          // toBuffer throws RequestFileTooLargeError (413) as soon as the stream passes the limit.
          const data = await part.toBuffer();
          if (part.fieldname === 'file' && file === null) {
            file = data;
            partName = part.filename ?? '';
          }
        } else if (typeof part.value === 'string') {
          fields[part.fieldname] = part.value;
        }
      }
      const directoryId = Number(fields.directoryId);
      if (!Number.isSafeInteger(directoryId) || directoryId <= 0 || directoryId > 2_147_483_647) {
        return refuse(req, reply, 400, 'directoryId must be the id of a warehouse');
      }
      try {
        await authorizeDirectory(opts.db, user.id, directoryId, 'manage');
      } catch (err) {
        if (err instanceof TRPCError) return refuse(req, reply, err.code === 'FORBIDDEN' ? 403 : 404, err.message);
        throw err;
      }
      if (!file || file.length === 0) return refuse(req, reply, 400, 'The `file` part is missing or empty');
      const filename = (fields.filename || partName || 'import').slice(0, MAX_FILENAME);
      try {
        const sheet = await readSpreadsheet(file, filename);
        const importId = await planImport(opts.db, user, { directoryId, filename, sheet, now: opts.now() });
        return reply.code(200).type('application/json').send({ importId });
      } catch (err) {
        if (err instanceof FileRefusal) {
          req.log.info({ status: err.status }, `import refused: ${err.message}`);
          return refuse(req, reply, err.status, err.message);
        }
        throw err;
      }
    });
    done();
  });
}
