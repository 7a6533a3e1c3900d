export { TRPCClientError, isTRPCClientError } from '@trpc/client';
export { MiniAbortController as AbortController, MiniAbortSignal as AbortSignal } from './abort';
export {
  createScancodeClient,
  DEFAULT_TOKEN_KEY,
  type LoginExtras,
  type LoginResult,
  type ScancodeClient,
  type ScancodeClientOptions,
} from './createScancodeClient';
export { downloadExport, type UploadImportInput, uploadImport } from './files';
export { codeKeyForHttpStatus, errorCode, isNetworkError, WxRequestError } from './errors';
export { createRequestId, DEFAULT_IDEMPOTENT_MUTATIONS, requestIdLink, type RequestIdLinkOptions } from './requestId';
export { createLoginGate, type LoginGate, sessionLink, type SessionLinkOptions } from './sessionLink';
export type { WxApi } from './wx';
export {
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_URL_LENGTH,
  DEFAULT_RETRIES,
  DEFAULT_TIMEOUT_MS,
  defaultIsRetryable,
  SESSION_TOKEN_HEADER,
  wxLink,
  type WireTransformer,
  type WxLinkOptions,
} from './wxLink';
