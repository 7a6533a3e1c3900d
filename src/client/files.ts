import { TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../routers/_app';
import { errorCode, jsonOrRaw, networkError, toClientError, unexpectedResponseError, type WxResponseMeta } from './errors';
import type { LoginGate } from './sessionLink';
import type { WxApi } from './wx';
import { SESSION_TOKEN_HEADER, type WireTransformer } from './wxLink';

/*
 * Spreadsheets travel outside tRPC (API.md "export and import"): a phone downloads an export with
 * wx.downloadFile (then shows it with wx.openDocument) and sends a file picked with
 * wx.chooseMessageFile with wx.uploadFile. These helpers do the tRPC half through the client and
 * the file half with those two calls, sharing the client's session: an upload refused with 401
 * logs in again once (the same login gate as every other call) and is sent again.
 */

/** What a client made by createScancodeClient shares with the file helpers. */
export interface FileTransport {
  wx: WxApi;
  /** Where `/files/…` paths are resolved: the tRPC URL without its last segment, unless configured. */
  filesBase: string;
  getToken(): string | null;
  gate: LoginGate;
  transformer: WireTransformer;
}

const transports = new WeakMap<object, FileTransport>();

export function registerFileTransport(client: object, transport: FileTransport): void {
  transports.set(client, transport);
}

function transportOf(client: object): FileTransport {
  const found = transports.get(client);
  if (!found) throw new Error('scancode client: downloadExport/uploadImport need a client made by createScancodeClient');
  return found;
}

function wxMethod<K extends 'downloadFile' | 'uploadFile'>(wx: WxApi, name: K): NonNullable<WxApi[K]> {
  const fn = wx[name];
  if (typeof fn !== 'function') throw new Error(`scancode client: this \`wx\` has no ${name}`);
  return fn.bind(wx) as NonNullable<WxApi[K]>;
}

type ExportInput = inferRouterInputs<AppRouter>['export']['create'];
type ExportLink = inferRouterOutputs<AppRouter>['export']['create'];

interface ExportClient {
  export: { create: { mutate(input: ExportInput): Promise<ExportLink> } };
}

/** Decodes a non-200 answer of the files routes: a tRPC error envelope, or whatever a gateway sent. */
function failure(transport: FileTransport, statusCode: number, raw: unknown): TRPCClientError<AppRouter> {
  const meta: WxResponseMeta = { response: { statusCode, header: {} } };
  const envelope = jsonOrRaw(raw) as { error?: unknown } | null;
  if (envelope && typeof envelope === 'object' && 'error' in envelope) {
    try {
      const error = transport.transformer.deserialize(envelope.error) as { code?: unknown };
      if (error && typeof error.code === 'number') {
        return TRPCClientError.from({ error } as never, { meta: meta as Record<string, unknown> }) as TRPCClientError<AppRouter>;
      }
    } catch (err) {
      return toClientError(err, meta) as TRPCClientError<AppRouter>;
    }
  }
  return unexpectedResponseError(statusCode, raw, meta) as TRPCClientError<AppRouter>;
}

/** export.create, then wx.downloadFile of the link it answers: `{ tempFilePath, filename }` for wx.openDocument. */
export async function downloadExport(client: object, input: ExportInput): Promise<{ tempFilePath: string; filename: string }> {
  const transport = transportOf(client);
  const download = wxMethod(transport.wx, 'downloadFile');
  const link = await (client as ExportClient).export.create.mutate(input);
  // The link carries its own secret: no session header, so nothing else travels with the file.
  return new Promise((resolve, reject) => {
    download({
      url: transport.filesBase + link.url,
      success(res) {
        if (res.statusCode === 200) resolve({ tempFilePath: res.tempFilePath, filename: link.filename });
        else reject(failure(transport, res.statusCode, undefined));
      },
      fail(err) {
        reject(networkError(err));
      },
    });
  });
}

export interface UploadImportInput {
  /** A local file: `tempFilePath` of wx.chooseMessageFile, or a downloaded export. */
  filePath: string;
  directoryId: number;
  /** The file's real name (wx.chooseMessageFile's `name`), kept as the import's file name and history note. */
  filename?: string;
}

/** wx.uploadFile to POST /files/imports with the session header: `{ importId }` for import.get/rows/confirm. */
export async function uploadImport(client: object, input: UploadImportInput): Promise<{ importId: number }> {
  const transport = transportOf(client);
  const upload = wxMethod(transport.wx, 'uploadFile');
  const send = () =>
    new Promise<{ importId: number }>((resolve, reject) => {
      const token = transport.getToken();
      const formData: Record<string, string> = { directoryId: String(input.directoryId) };
      if (input.filename) formData.filename = input.filename;
      upload({
        url: `${transport.filesBase}/files/imports`,
        filePath: input.filePath,
        name: 'file',
        header: token ? { [SESSION_TOKEN_HEADER]: token } : {},
        formData,
        success(res) {
          if (res.statusCode !== 200) {
            reject(failure(transport, res.statusCode, res.data));
            return;
          }
          let body: { importId?: unknown } | null = null;
          try {
            body = (typeof res.data === 'string' ? JSON.parse(res.data) : res.data) as { importId?: unknown };
          } catch {
            body = null;
          }
          if (body && typeof body.importId === 'number') resolve({ importId: body.importId });
          else reject(unexpectedResponseError(res.statusCode, res.data, { response: { statusCode: res.statusCode, header: {} } }));
        },
        fail(err) {
          reject(networkError(err));
        },
      });
    });

  const { gate } = transport;
  // As sessionLink does: log in first when there is no token, else try and log in once on a 401.
  if (transport.getToken() === null) await gate.ensure(gate.generation());
  const seen = gate.generation();
  try {
    return await send();
  } catch (err) {
    if (errorCode(err) !== 'UNAUTHORIZED') throw err;
    await gate.ensure(seen);
    return send();
  }
}
