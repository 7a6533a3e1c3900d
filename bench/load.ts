import autocannon from 'autocannon';

/*
 * autocannon, driven in this process (the servers live in another one). Latency percentiles are
 * computed here from every response's time in fractional milliseconds: autocannon's own histogram
 * has 1 ms resolution, too coarse for loopback latencies.
 */

export interface Measurement {
  label: string;
  reqPerSec: number;
  completed: number;
  durationSec: number;
  p50: number;
  p99: number;
  max: number;
  /** Responses by HTTP status. */
  statuses: Record<string, number>;
  /** Socket errors and timeouts (not HTTP statuses). */
  errors: number;
  timeouts: number;
  /** Responses that were not 2xx. */
  non2xx: number;
  /**
   * CPU time the server process spent per response (µs), when the spec can read it. Unlike req/s
   * this barely moves when other processes compete for the cores, so it is the steadier figure.
   */
  cpuUsPerReq: number | null;
}

export interface LoadRequest {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface LoadSpec {
  label: string;
  url: string;
  connections: number;
  /** Seconds; or `amount` for a fixed number of requests. */
  duration?: number;
  amount?: number;
  /** Called for every request: returns what to send. */
  next: () => LoadRequest;
  /** Reads the server process's CPU time so far (µs). */
  cpu?: () => Promise<number>;
  /** Called with every response (status, body); slows the load generator, use for correctness runs only. */
  onResponse?: (status: number, body: string) => void;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export interface RunningLoad {
  result: Promise<Measurement>;
  stop(): void;
}

export function startLoad(spec: LoadSpec): RunningLoad {
  const times: number[] = [];
  const request: autocannon.Request = {
    method: 'GET',
    path: '/',
    setupRequest: (req) => {
      const r = spec.next();
      return { ...req, method: r.method, path: r.path, headers: r.headers, body: r.body ?? '' };
    },
    ...(spec.onResponse ? { onResponse: (status: number, body: string) => spec.onResponse?.(status, body) } : {}),
  };
  const instance = autocannon({
    url: spec.url,
    connections: spec.connections,
    pipelining: 1,
    timeout: 30,
    ...(spec.amount !== undefined ? { amount: spec.amount } : { duration: spec.duration ?? 5 }),
    requests: [request],
  }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    times.push(responseTime);
  });
  const result = instance.then((r) => {
    const sorted = Float64Array.from(times).sort();
    const statuses: Record<string, number> = {};
    for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) statuses[code] = (s as { count: number }).count;
    const completed = times.length;
    return {
      label: spec.label,
      reqPerSec: r.duration > 0 ? completed / r.duration : 0,
      completed,
      durationSec: r.duration,
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted.length ? sorted[sorted.length - 1]! : 0,
      statuses,
      errors: r.errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      cpuUsPerReq: null,
    } satisfies Measurement;
  });
  return { result, stop: () => instance.stop() };
}

export async function measure(spec: LoadSpec): Promise<Measurement> {
  const before = spec.cpu ? await spec.cpu() : null;
  const m = await startLoad(spec).result;
  if (before !== null && spec.cpu && m.completed > 0) m.cpuUsPerReq = ((await spec.cpu()) - before) / m.completed;
  return m;
}

export interface CompareOptions {
  rounds: number;
  warmupSec: number;
  /**
   * Latency mode: measure with this few connections (a light closed loop) and keep each side's
   * round with the median p99. With 50 connections on one busy core p99 is mostly queueing behind
   * whatever else the 2 cores are doing; with a few it is the work of one request.
   */
  latencyConnections?: number;
}

/**
 * Side by side: subject and baseline alternate `rounds` times; the best round of each (by req/s)
 * is kept, or in latency mode the round with the median p99.
 */
export async function compare(
  subject: LoadSpec,
  baseline: LoadSpec,
  opts: CompareOptions,
): Promise<{
  subject: Measurement;
  baseline: Measurement;
  rounds: Array<{ subject: Measurement; baseline: Measurement }>;
  warmup: { subject: Measurement; baseline: Measurement } | null;
}> {
  let warmup: { subject: Measurement; baseline: Measurement } | null = null;
  if (opts.warmupSec > 0) {
    const s = await measure({ ...subject, duration: opts.warmupSec, amount: undefined });
    const b = await measure({ ...baseline, duration: opts.warmupSec, amount: undefined });
    warmup = { subject: s, baseline: b };
  }
  const latencyMode = opts.latencyConnections !== undefined;
  if (latencyMode) {
    subject = { ...subject, connections: opts.latencyConnections! };
    baseline = { ...baseline, connections: opts.latencyConnections! };
  }
  const rounds: Array<{ subject: Measurement; baseline: Measurement }> = [];
  for (let i = 0; i < opts.rounds; i++) {
    // Alternate who goes first, so a slow phase of the machine does not always hit the same side.
    if (i % 2 === 0) {
      const b = await measure(baseline);
      const s = await measure(subject);
      rounds.push({ subject: s, baseline: b });
    } else {
      const s = await measure(subject);
      const b = await measure(baseline);
      rounds.push({ subject: s, baseline: b });
    }
  }
  const best = (side: 'subject' | 'baseline') => {
    const ms = rounds.map((r) => r[side]);
    if (latencyMode) return [...ms].sort((a, b) => a.p99 - b.p99)[Math.floor((ms.length - 1) / 2)]!;
    return ms.reduce((a, b) => (b.reqPerSec > a.reqPerSec ? b : a));
  };
  return { subject: best('subject'), baseline: best('baseline'), rounds, warmup };
}
