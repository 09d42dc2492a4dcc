/**
 * The HTTP half of the store benchmark: the same gallery, model and queries as the API benchmark
 * (scripts/bench/http/), served once with each store by its own server process; `/v1/search`
 * latency at N connections, then the same load while a re-index publishes a new generation
 * (failed requests must be zero, and the server must end on the new generation).
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { openEmbedder } from '../../src/embedding/index.js';
import { openStore, type StoreKind } from '../../src/index/open-store.js';
import { buildIndexes, createGeneration, publishGeneration } from '../../src/index/pgvector/build.js';
import { readServing } from '../../src/index/pgvector/generations.js';
import type { Pool } from '../../src/index/pgvector/pool.js';
import { names } from '../../src/index/pgvector/schema.js';
import { GalleryStore } from '../../src/index/store.js';
import { loadFor, loadWhile, type LoadOptions, type LoadResult } from '../load/index.js';
import { writeWranglerConfig } from '../server/config.js';
import { stopProcess } from '../server/dev.js';
import { startServer } from './http/cold-start.js';
import { prepareApiBench } from './http/prepare.js';
import { KEY } from './http/types.js';

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

/** The generation a server answers /v1/index with. */
export async function served(url: string): Promise<string> {
  const res = await fetch(`${url}/v1/index`, { headers: { authorization: `Bearer ${KEY}` } });
  return ((await res.json()) as { version: string }).version;
}

/** `/v1/search` with the benchmark's queries on `connections` connections (the shared load helper). */
function searchLoad(url: string, connections: number, queries: Buffer[]): LoadOptions {
  return { url, connections, requests: queries.map((body) => ({ method: 'POST' as const, path: '/v1/search', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'image/png' }, body })) };
}

/** A run's figures: failed = errors and non-2xx answers, plus, when drained, requests lost without an answer. */
export function figures(connections: number, r: LoadResult, drained: boolean): Omit<HttpRun, 'store'> {
  const non2xx = Object.entries(r.statuses).reduce((n, [status, count]) => n + (status.startsWith('2') ? 0 : count), 0);
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const s = r.summary;
  return { connections, requests: r.sent, rps: Math.round(s.requests.average), p50: s.latency.p50, p99: s.latency.p99, failed: non2xx + errors + (drained ? r.unanswered : 0) };
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
      const config = await writeWranglerConfig(join(o.work, `stores-${kind}`), 'twinsearch-bench', vars, { API_KEYS: KEY });
      const { dev, url } = await startServer(config, 1, p.queries.png28[0]);
      try {
        say(`${kind}: /v1/search at ${o.connections} connections for ${o.seconds} s`);
        load.push({ store: kind, ...figures(o.connections, await loadFor(searchLoad(url, o.connections, p.queries.png28), o.seconds), false) });
        /** Runs `work` two seconds into a load that lasts until one second after it. */
        const underLoad = async (what: PublishRun['what'], work: () => Promise<void>): Promise<void> => {
          const before = await served(url);
          say(`${kind}: the same load during: ${what}`);
          let seconds = 0;
          const { load: result } = await loadWhile(searchLoad(url, o.connections, p.queries.png28), async () => {
            await new Promise((r) => setTimeout(r, 2000));
            const started = performance.now();
            await work();
            seconds = (performance.now() - started) / 1000;
            await new Promise((r) => setTimeout(r, 1000)); // the new generation under load for a second
          });
          await new Promise((r) => setTimeout(r, 500));
          publish.push({ store: kind, what, ...figures(o.connections, result, true), before, after: await served(url), reindexSeconds: Math.round(seconds * 100) / 100 });
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
        await stopProcess(dev.child);
      }
    }
  } finally {
    await embedder.close();
    await o.pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
  }
  return { images: o.images, gallery: p.source, model: p.model.source, seconds: o.seconds, load, publish };
}
