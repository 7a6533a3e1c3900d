import {
  callTRPCProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  transformTRPCResponse,
  TRPCError,
  type AnyTRPCRouter,
  type inferRouterContext,
} from '@trpc/server';
import { fastifyRequestHandler, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import { getHTTPStatusCode } from '@trpc/server/http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { splitUrl } from './url';

/*
 * tRPC over Fastify without the fetch API on the hot path.
 *
 * Every tRPC v11 adapter turns each request into a fetch `Request` (with `AbortController`s,
 * `Headers`, `URL`) and each answer into a fetch `Response` that Fastify then streams. On this
 * server that costs more CPU than the whole bare scan route (figures in bench/README.md). Plain JSON
 * calls — a query by GET, a mutation by POST with an `application/json` body, batched or not,
 * every path a known procedure of the right type — are the only requests our clients send, and
 * they are answered here from tRPC's own public building blocks (`callTRPCProcedure`,
 * `getErrorShape`, `transformTRPCResponse`, `getHTTPStatusCode`), in the exact order and shape
 * tRPC's `resolveResponse` uses. Everything else (an unknown path, a method that does not fit the
 * procedure, streaming, form data, HEAD, an oversized batch) goes to tRPC's own Fastify handler
 * unchanged, so its answers are tRPC's by construction.
 *
 * test/equivalence/trpc-transport.test.ts sends the same requests to this and to the stock adapter and
 * requires identical answers; upgrading @trpc/server must keep that test green.
 */

export type TrpcTransport = 'lean' | 'fetch';

type StockOptions<TRouter extends AnyTRPCRouter> = FastifyTRPCPluginOptions<TRouter>['trpcOptions'];

export interface TrpcRouteOptions<TRouter extends AnyTRPCRouter> {
  /** Where the procedures are mounted, as `${prefix}/:path`. */
  prefix: string;
  router: TRouter;
  createContext: (opts: { req: FastifyRequest; res: FastifyReply }) => inferRouterContext<TRouter> | Promise<inferRouterContext<TRouter>>;
  maxBatchSize: number;
  onError?: StockOptions<TRouter>['onError'];
  /** `fetch` sends every request through tRPC's stock adapter (the reference the tests compare with). */
  transport?: TrpcTransport;
}

type ProcedureType = 'query' | 'mutation';

/** What the lean path answers: known procedures of one type, called with the method tRPC requires. */
interface Plan {
  type: ProcedureType;
  paths: string[];
  isBatchCall: boolean;
  /** The raw input text: the `input` query parameter of a GET, the body of a POST. */
  rawInput: string | null;
}

const METHOD_OF: Record<ProcedureType, string> = { query: 'GET', mutation: 'POST' };

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && !Array.isArray(value) && typeof value === 'object';
}

function isAsyncIterable(value: unknown): boolean {
  return isObject(value) && Symbol.asyncIterator in value;
}

function isPromiseLike(value: unknown): boolean {
  return (isObject(value) || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** tRPC refuses a promise or an async iterable in a non-streaming answer; so do we. */
function isDataStream(value: unknown): boolean {
  if (!isObject(value)) return false;
  if (isAsyncIterable(value)) return true;
  const values = Object.values(value);
  return values.some(isPromiseLike) || values.some(isAsyncIterable);
}

function mediaType(value: string | undefined): string | undefined {
  return value?.toLowerCase().split(';', 1)[0]?.trim();
}

/** Whether tRPC would answer this request as a stream (httpBatchStreamLink, SSE). */
function wantsStream(req: FastifyRequest): boolean {
  if (req.headers['trpc-accept'] !== undefined) return true;
  const accept = req.headers.accept;
  const list = Array.isArray(accept) ? accept.join(',') : accept;
  return !!list && list.split(',').some((t) => t.trim() === 'application/jsonl');
}

/** The lean path's plan for this request, or null when tRPC's own handler must answer it. */
function planOf(req: FastifyRequest, router: AnyTRPCRouter, maxBatchSize: number): Plan | null {
  const method = req.method;
  if (method !== 'GET' && method !== 'POST') return null;
  if (wantsStream(req)) return null;
  const contentType = mediaType(req.headers['content-type']);
  if (
    method === 'POST'
      ? contentType !== 'application/json' || typeof req.body !== 'string'
      : contentType !== undefined && contentType !== 'application/json'
  ) {
    return null;
  }
  const config = router._def._config as { pathSeparator?: string };
  if (config.pathSeparator !== undefined && config.pathSeparator !== '.') return null;

  const urlPath = (req.params as { path?: unknown }).path;
  // tRPC decodes the path once more; a path with an escape left in it takes tRPC's own route.
  if (typeof urlPath !== 'string' || urlPath.includes('%')) return null;
  const query = searchParams(req);
  if (query.connectionParams !== undefined) return null;
  const isBatchCall = query.batch === '1';
  const paths = isBatchCall ? urlPath.split(',') : [urlPath];
  if (isBatchCall && paths.length > maxBatchSize) return null;

  const procedures = router._def.procedures as Record<string, { _def: { type: string } } | undefined>;
  let type: ProcedureType | null = null;
  for (const path of paths) {
    const procedure = Object.hasOwn(procedures, path) ? procedures[path] : undefined;
    const procedureType = procedure?._def.type;
    if (procedureType !== 'query' && procedureType !== 'mutation') return null;
    if (METHOD_OF[procedureType] !== method || (type !== null && type !== procedureType)) return null;
    type = procedureType;
  }
  if (type === null) return null;
  return { type, paths, isBatchCall, rawInput: method === 'GET' ? (query.input ?? null) : (req.body as string) };
}

/**
 * The query parameters as tRPC reads them (URLSearchParams, first value of each), from the query
 * Fastify has already parsed rather than parsing the URL a second time. The two parsers agree
 * except on a malformed escape, which URLSearchParams turns into U+FFFD and Fastify's parser leaves
 * as written; so a value still holding a '%' is read again the way tRPC reads it.
 */
const QUERY_NAMES = ['input', 'batch', 'connectionParams'] as const;
type Query = Record<(typeof QUERY_NAMES)[number], string | undefined>;

function searchParams(req: FastifyRequest): Query {
  const parsed = req.query as Record<string, string | string[] | undefined>;
  const out = {} as Query;
  for (const name of QUERY_NAMES) {
    const raw = parsed[name];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value?.includes('%')) return searchParamsAsTrpc(req);
    out[name] = value;
  }
  return out;
}

function searchParamsAsTrpc(req: FastifyRequest): Query {
  const search = new URLSearchParams(splitUrl(req.url).query);
  const out = {} as Query;
  for (const name of QUERY_NAMES) out[name] = search.get(name) ?? undefined;
  return out;
}

/**
 * The inputs of every call, parsed once on first use, with the errors tRPC gives: a parse failure
 * is a BAD_REQUEST carrying the parser's message, met by each call that reads its input.
 */
function inputReader(router: AnyTRPCRouter, plan: Plan) {
  const deserialize = (v: unknown) => router._def._config.transformer.input.deserialize(v);
  let inputs: Record<number, unknown> | undefined;
  let failure: TRPCError | undefined;
  const parse = (): Record<number, unknown> => {
    const raw = plan.rawInput ? (JSON.parse(plan.rawInput) as unknown) : undefined;
    const out: Record<number, unknown> = Object.create(null);
    if (raw === undefined) return out;
    if (!plan.isBatchCall) {
      out[0] = deserialize(raw);
      return out;
    }
    if (!isObject(raw)) {
      throw new TRPCError({ code: 'BAD_REQUEST', message: '"input" needs to be an object when doing a batch call' });
    }
    for (const index of plan.paths.keys()) {
      const input = raw[index];
      if (input !== undefined) out[index] = deserialize(input);
    }
    return out;
  };
  return {
    read(index: number): unknown {
      if (!inputs && !failure) {
        try {
          inputs = parse();
        } catch (cause) {
          failure =
            cause instanceof TRPCError
              ? cause
              : new TRPCError({ code: 'BAD_REQUEST', message: cause instanceof Error ? cause.message : 'Invalid input', cause });
        }
      }
      if (failure) throw failure;
      return inputs![index];
    },
    /** The input as far as it was read: what tRPC hands to onError and the error formatter. */
    result(index: number): unknown {
      return inputs?.[index];
    },
  };
}

async function answer<TRouter extends AnyTRPCRouter>(
  opts: TrpcRouteOptions<TRouter>,
  plan: Plan,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  const { router, onError } = opts;
  const config = router._def._config;
  const { type } = plan;
  const inputs = inputReader(router, plan);

  let ctx: inferRouterContext<TRouter> | undefined;
  let ctxError: TRPCError | undefined;
  try {
    const made = opts.createContext({ req, res: reply });
    // Our context factory is synchronous: awaiting its plain value would only cost a turn.
    ctx = isPromiseLike(made) ? await made : (made as inferRouterContext<TRouter>);
  } catch (cause) {
    ctxError = getTRPCErrorFromUnknown(cause);
  }

  const report = (error: TRPCError, path: string | undefined, input: unknown) =>
    onError?.({ error, path, input, ctx, type, req } as Parameters<NonNullable<typeof onError>>[0]);

  const call = async (path: string, batchIndex: number): Promise<[TRPCError, undefined] | [undefined, unknown]> => {
    try {
      if (ctxError) throw ctxError;
      const data = await callTRPCProcedure({
        router,
        path,
        getRawInput: async () => inputs.read(batchIndex),
        ctx,
        type,
        signal: undefined,
        batchIndex,
      });
      return [undefined, data];
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      report(error, path, inputs.result(batchIndex));
      return [error, undefined];
    }
  };
  // Calls of a batch run concurrently, as tRPC runs them.
  const results = plan.isBatchCall ? await Promise.all(plan.paths.map(call)) : [await call(plan.paths[0]!, 0)];

  const streamRefusal = () =>
    new TRPCError({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'Cannot use stream-like response in non-streaming request - use httpBatchStreamLink',
    });
  const envelope = (error: TRPCError | undefined, data: unknown, index: number, path: string | undefined) =>
    error
      ? { error: getErrorShape({ config, ctx, error, input: path === undefined ? undefined : inputs.result(index), path, type }) }
      : { result: { data } };

  let items: Array<ReturnType<typeof envelope>>;
  let errors: Array<TRPCError | undefined>;
  if (!plan.isBatchCall) {
    let [error, data] = results[0]!;
    let path: string | undefined = plan.paths[0];
    // tRPC raises this one outside the call: onError and the shape get no path and no input.
    if (!error && isDataStream(data)) {
      error = streamRefusal();
      data = undefined;
      path = undefined;
      report(error, undefined, undefined);
    }
    items = [envelope(error, data, 0, path)];
    errors = [error];
  } else {
    const checked = results.map(([error, data]): [TRPCError | undefined, unknown] =>
      error || !isDataStream(data) ? [error, data] : [streamRefusal(), undefined],
    );
    items = checked.map(([error, data], index) => envelope(error, data, index, plan.paths[index]));
    errors = checked.map(([error]) => error);
  }

  const status = getHTTPStatusCode(items, errors);
  const body = JSON.stringify(transformTRPCResponse(config, plan.isBatchCall ? items : items[0]!));
  // The identity serializer keeps Fastify from adding a charset parameter to the JSON string, which
  // the stock adapter does not send; a string (not bytes) leaves in one write with the headers.
  // Not awaited: awaiting a reply waits for the socket to finish, which nothing here needs.
  reply.code(status).header('vary', 'trpc-accept, accept').header('content-type', 'application/json').serializer(sentAsIs).send(body);
}

const sentAsIs = (payload: unknown) => payload as string;

/** Mounts `router` at `${prefix}/:path`, as `fastifyTRPCPlugin` does, with the lean path in front. */
export async function registerTrpc<TRouter extends AnyTRPCRouter>(app: FastifyInstance, opts: TrpcRouteOptions<TRouter>): Promise<void> {
  const stock = {
    router: opts.router,
    createContext: opts.createContext,
    maxBatchSize: opts.maxBatchSize,
    onError: opts.onError,
  } as StockOptions<TRouter>;
  const lean = (opts.transport ?? 'lean') === 'lean';

  await app.register(
    (scope, _opts, done) => {
      // As the stock plugin does: tRPC reads JSON bodies itself, and form data untouched.
      scope.removeContentTypeParser('application/json');
      scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => done(null, body));
      scope.removeContentTypeParser('multipart/form-data');
      scope.addContentTypeParser('multipart/form-data', {}, (_req, body, done) => done(null, body));

      scope.all('/:path', async (req, reply) => {
        const plan = lean ? planOf(req, opts.router, opts.maxBatchSize) : null;
        if (plan) return answer(opts, plan, req, reply);
        const path = (req.params as { path: string }).path;
        await fastifyRequestHandler({ ...stock, req, res: reply, path });
      });
      done();
    },
    { prefix: opts.prefix },
  );
}
