/**
 * The HTTP benchmark, end to end through a real socket: for each embedding setting, cold starts of
 * `npm run dev`'s adapter (a process of its own; the load generator runs in this one, on the same
 * cores), then autocannon on each route, query encoding and connection count, then Lambda cold starts.
 */
import { loadFor, type LoadRequest } from '../../load/index.js';
import { stopProcess } from '../../server/dev.js';
import { machine } from '../common.js';
import { lambdaColdStart, searchHeaders, startServer } from './cold-start.js';
import { breakdown, scrape } from './metrics.js';
import { prepareApiBench } from './prepare.js';
import { BENCH_ROUTES, KEY, QUERY_KINDS, round, type ApiBenchOptions, type ApiBenchResult, type BenchRoute, type LoadRun, type QueryKind, type ServerResult } from './types.js';

/** A request per query: the raw image for /v1/search, a two-part form (this image and the next) for /v1/verify. */
async function requestsFor(route: BenchRoute, queries: Buffer[]): Promise<LoadRequest[]> {
  if (route === 'search') return queries.map((body) => ({ method: 'POST', path: '/v1/search', headers: searchHeaders, body }));
  return Promise.all(
    queries.map(async (a, i) => {
      const form = new FormData();
      form.append('image_a', new Blob([new Uint8Array(a)]), 'a');
      form.append('image_b', new Blob([new Uint8Array(queries[(i + 1) % queries.length])]), 'b');
      const encoded = new Response(form);
      return { method: 'POST' as const, path: '/v1/verify', headers: { authorization: `Bearer ${KEY}`, 'content-type': encoded.headers.get('content-type') ?? '' }, body: Buffer.from(await encoded.arrayBuffer()) };
    }),
  );
}

async function measure(url: string, route: BenchRoute, query: QueryKind, connections: number, seconds: number, requests: LoadRequest[]): Promise<LoadRun> {
  const before = await scrape(url);
  const { summary: r } = await loadFor({ url, connections, requests }, seconds);
  const after = await scrape(url);
  return {
    route,
    query,
    connections,
    seconds: round(r.duration, 1),
    requests: r.requests.total,
    rps: round(r.requests.average, 0),
    p50: r.latency.p50,
    p90: r.latency.p90,
    p97_5: r.latency.p97_5,
    p99: r.latency.p99,
    meanMs: round(r.latency.average, 2),
    errors: r.errors,
    non2xx: r.non2xx,
    ...breakdown(route, before, after),
  };
}

/**
 * @example
 * const r = await runApiBench({ images: 10_000, duration: 30, connections: [1, 16, 64], workers: [0, 2], coldStarts: 3, work: 'tmp/api-bench' });
 */
export async function runApiBench(o: ApiBenchOptions): Promise<ApiBenchResult> {
  const log = o.log ?? (() => {});
  const atStart = machine();
  const { model, card, queries, source, index, vars, config } = await prepareApiBench(o);

  const servers: ServerResult[] = [];
  const lambda: ApiBenchResult['lambdaColdStartMs'] = [];
  for (const workers of o.workers) {
    const coldStartMs: number[] = [];
    let running: Awaited<ReturnType<typeof startServer>> | null = null;
    for (let i = 0; i < o.coldStarts; i++) {
      if (running) await stopProcess(running.dev.child);
      running = await startServer(config, workers, queries.png28[0]);
      coldStartMs.push(round(running.coldStartMs, 0));
      log(`workers ${workers}: cold start ${coldStartMs.at(-1)} ms`);
    }
    if (!running) throw new Error('coldStarts must be at least 1');
    try {
      const runs: LoadRun[] = [];
      for (const route of o.routes ?? BENCH_ROUTES) {
        for (const kind of o.queries ?? QUERY_KINDS) {
          const requests = await requestsFor(route, queries[kind]);
          await loadFor({ url: running.url, connections: 4, requests }, Math.min(2, o.duration)); // warm-up
          for (const connections of o.connections) {
            const run = await measure(running.url, route, kind, connections, o.duration, requests);
            runs.push(run);
            log(`workers ${workers}, /v1/${route}, ${kind}, ${connections} connections: ${run.rps} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, errors ${run.errors}, non-2xx ${run.non2xx}`);
          }
        }
      }
      servers.push({ workers, coldStartMs, runs });
    } finally {
      await stopProcess(running.dev.child);
    }
    const lambdaMs: number[] = [];
    for (let i = 0; i < o.coldStarts; i++) {
      lambdaMs.push(round(await lambdaColdStart({ ...vars, EMBED_WORKERS: String(workers), API_KEYS: KEY, LOG_LEVEL: 'silent' }, queries.png28[0]), 0));
      log(`workers ${workers}: lambda cold start ${lambdaMs.at(-1)} ms`);
    }
    lambda.push({ workers, ms: lambdaMs });
  }
  return {
    machine: atStart,
    model: { id: card.modelId, dir: model.dir, source: model.source },
    gallery: { images: o.images, identities: Math.ceil(o.images / 10), source },
    index: { version: index.version, M: index.M, ef: index.ef },
    servers,
    lambdaColdStartMs: lambda,
  };
}
