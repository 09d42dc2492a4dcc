/**
 * The HTTP half of the store benchmark: the same gallery, model and queries as the API benchmark
 * (scripts/api-bench.ts), served once with each store by its own server process; `/v1/search`
 * latency at N connections, then the same load while a re-index publishes a new generation
 * (failed requests must be zero, and the server must end on the new generation).
 */
import { join } from 'node:path';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { openEmbedder } from '../../src/embedding/index.js';
import { openStore, type StoreKind } from '../../src/index/open-store.js';
import { buildIndexes, createGeneration, publishGeneration } from '../../src/index/pgvector/build.js';
import { readServing } from '../../src/index/pgvector/generations.js';
import type { Pool } from '../../src/index/pgvector/pool.js';
import { names } from '../../src/index/pgvector/schema.js';
import { GalleryStore } from '../../src/index/store.js';
import { KEY, prepareApiBench, startServer, stopServer, writeServerConfig } from '../api-bench.js';

const log = pino({ level: 'silent' });

export interface HttpRun {
  store: StoreKind;
  connections: number;
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  /** Errors, timeouts and non-2xx answers. */
  failed: number;
}

export interface PublishRun extends HttpRun {
  what: 're-index (build + publish)' | 'publish only (generation built beforehand)';
  /** The generation served before and after; they differ when the publish was seen. */
  before: string;
  after: string;
  reindexSeconds: number;
}

export interface HttpBenchResult {
  images: number;
  gallery: string;
  model: string;
  seconds: number;
  load: HttpRun[];
  publish: PublishRun[];
}

export interface HttpBenchOptions {
  images: number;
  seconds: number;
  connections: number;
  work: string;
  tiny?: boolean;
  pool: Pool;
  databaseUrl: string;
  log?: (line: string) => void;
}

async function served(url: string): Promise<string> {
  const res = await fetch(`${url}/v1/index`, { headers: { authorization: `Bearer ${KEY}` } });
  return ((await res.json()) as { version: string }).version;
}

/** Loads `/v1/search` for `seconds`, or until `until` settles (plus one second). */
async function hammer(url: string, connections: number, queries: Buffer[], stop: { seconds: number } | { until: Promise<unknown> }): Promise<Omit<HttpRun, 'store'>> {
  const requests = queries.map((body) => ({ method: 'POST' as const, path: '/v1/search', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'image/png' }, body }));
  const instance = autocannon({ url, connections, duration: 'seconds' in stop ? stop.seconds : 3600, timeout: 30, requests });
  if ('until' in stop) void stop.until.catch(() => undefined).then(() => setTimeout(() => instance.stop(), 1000));
  const r = await instance;
  return { connections, requests: r.requests.total, rps: Math.round(r.requests.average), p50: r.latency.p50, p99: r.latency.p99, failed: r.errors + r.timeouts + r.non2xx };
}

/**
 * @example
 * const r = await runHttpBench({ images: 10_000, seconds: 20, connections: 16, work: 'tmp/api-bench', pool, databaseUrl });
 */
export async function runHttpBench(o: HttpBenchOptions): Promise<HttpBenchResult> {
  const say = o.log ?? (() => {});
  const p = await prepareApiBench({ images: o.images, duration: 0, connections: [], workers: [1], coldStarts: 0, work: o.work, tiny: o.tiny, log: say });
  const schema = `bench_http_${process.pid}`;
  const embedder = await openEmbedder(p.model.dir, { workers: o.tiny ? 0 : 2 });
  const expect = { dim: p.card.embeddingSize, metric: p.card.metric, modelId: p.card.modelId };
  const job = (kind: StoreKind) => openStore({ kind, indexDir: p.index.dir, databaseUrl: o.databaseUrl, schema, poolMax: 2, gallery: new GalleryStore(p.gallery), expect, embedder, log, pollMs: 0, watch: false });
  const load: HttpRun[] = [];
  const publish: PublishRun[] = [];
  try {
    say(`indexing ${o.images} images into pgvector (schema ${schema})`);
    const first = job('pgvector');
    await first.reindex({ mode: 'build' });
    await first.close();
    for (const kind of ['local', 'pgvector'] as const) {
      const vars = { ...p.vars, RELOAD_POLL_MS: '200', LOG_LEVEL: 'error', ...(kind === 'pgvector' ? { VECTOR_STORE: 'pgvector', DATABASE_URL: o.databaseUrl, PG_SCHEMA: schema } : {}) };
      const config = await writeServerConfig(join(o.work, `stores-${kind}`), vars);
      const { child, url } = await startServer(config, 1, p.queries.png28[0]);
      try {
        say(`${kind}: /v1/search at ${o.connections} connections for ${o.seconds} s`);
        load.push({ store: kind, ...(await hammer(url, o.connections, p.queries.png28, { seconds: o.seconds })) });
        /** Runs `work` two seconds into a load that lasts until one second after it. */
        const underLoad = async (what: PublishRun['what'], work: () => Promise<void>): Promise<void> => {
          const before = await served(url);
          say(`${kind}: the same load during: ${what}`);
          let seconds = 0;
          const running = (async () => {
            await new Promise((r) => setTimeout(r, 2000));
            const started = performance.now();
            await work();
            seconds = (performance.now() - started) / 1000;
          })();
          const result = await hammer(url, o.connections, p.queries.png28, { until: running });
          await running;
          await new Promise((r) => setTimeout(r, 500));
          publish.push({ store: kind, what, ...result, before, after: await served(url), reindexSeconds: Math.round(seconds * 100) / 100 });
        };
        const reindexer = job(kind);
        await underLoad('re-index (build + publish)', async () => void (await reindexer.reindex(kind === 'local' ? { rebuild: true } : {})));
        await reindexer.close();
        if (kind === 'pgvector') {
          // The build alone, without load, then only the publishing transaction under load: on a
          // real server the build runs in a backend of its own; PGlite has one, so it stalls queries.
          const n = names(schema);
          const { current } = await readServing(o.pool, n);
          if (!current) throw new Error('no current generation to copy');
          const next = await createGeneration(o.pool, n, { model: { id: current.modelId, weightsHash: current.weightsHash, dim: current.dim, metric: current.metric, normalized: current.normalized }, params: { M: current.m, efConstruction: current.efConstruction, ef: current.efSearch }, journalSeq: current.journalSeq, build: { mode: 'rebuild', reason: 'benchmark: publish under load', seconds: 0 } });
          await o.pool.query(`INSERT INTO ${next.tab} SELECT * FROM ${current.tab}`);
          await buildIndexes(o.pool, next);
          await underLoad('publish only (generation built beforehand)', async () => void (await publishGeneration(o.pool, n, next, async () => new Map())));
        }
      } finally {
        await stopServer(child);
      }
    }
  } finally {
    await embedder.close();
    await o.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  }
  return { images: o.images, gallery: p.source, model: p.model.source, seconds: o.seconds, load, publish };
}
