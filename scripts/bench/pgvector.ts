/**
 * Local HNSW snapshots against Postgres + pgvector, measured in one run on the same vectors and
 * the same gallery (`npm run bench:stores`):
 *   - recall@10 against the exact scan, and queries/s, at several ef (hnsw.ef_search), through
 *     each store's reader: 100,000 synthetic 64-d vectors (clustered, 1,000 centres) and the
 *     Fashion-MNIST embeddings (random-weight conv4 tower, 64-d; Debian dataset-fashion-mnist);
 *   - time to build a generation, its size, a fresh instance's start, enrolments per second;
 *   - `/v1/search` p50/p99 at 16 connections with each store, and the failed requests while a
 *     re-index publishes a new generation under that load.
 * Postgres is PGlite (Postgres + pgvector compiled to WebAssembly, one backend, one thread)
 * in its own process, over the wire protocol: docs/scale.md says how that relates to a server.
 *
 *   npx tsx scripts/bench/pgvector.ts [--count 100000] [--fashion 70000] [--queries 500] [--ef 20,40,100,200]
 *       [--http-images 10000] [--seconds 20] [--connections 16] [--out bench/results] [--smoke]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { parseNonNegativeInteger, parsePositiveInteger } from '../../src/cli/common.js';
import { openEmbedder } from '../../src/embedding/index.js';
import { DEFAULT_HNSW_PARAMS } from '../../src/index/hnsw.js';
import { createPool } from '../../src/index/pgvector/pool.js';
import { writeTinyModel } from '../../test/fixtures/gallery.js';
import { startPglite } from '../../test/fixtures/pglite.js';
import { table, writeResults } from './common.js';
import { randomModel } from './data.js';
import { embedFashionMnist } from './embeddings.js';
import { clusteredVectors } from './vectors.js';
import { runHttpBench, type HttpBenchResult } from './pgvector-http.js';
import { runVectorBench, type VectorBenchResult, type VectorSet } from './pgvector-vectors.js';

export interface StoreBenchOptions {
  /** Synthetic vectors (0 = skip). */
  count: number;
  dim: number;
  /** Fashion-MNIST images embedded (0 = skip). */
  fashion: number;
  queries: number;
  efs: number[];
  k: number;
  M: number;
  efConstruction: number;
  exactQueries: number;
  enrolments: number;
  /** Gallery images of the HTTP part (0 = skip). */
  httpImages: number;
  seconds: number;
  connections: number;
  work: string;
  /** Tiny model and images (the test suite's smoke run). */
  tiny?: boolean;
  log?: (line: string) => void;
}

export interface StoreBenchResult {
  loadavgAtStart: number[];
  /** Median ms of `SELECT 1` through the pool: the fixed cost of one round trip to PGlite. */
  roundTripMs: number;
  vectors: VectorBenchResult[];
  http: HttpBenchResult | null;
}

/** Splits `rows` vectors into indexed rows and the last `queries` held out as queries. */
function holdOut(name: string, all: Float32Array, dim: number, queries: number): VectorSet {
  const count = all.length / dim - queries;
  return { name, dim, vectors: all.subarray(0, count * dim), queries: all.subarray(count * dim) };
}

/**
 * @example
 * const r = await runStoreBench({ count: 100_000, dim: 64, fashion: 70_000, queries: 500, efs: [20, 40, 100, 200], … });
 */
export async function runStoreBench(o: StoreBenchOptions): Promise<StoreBenchResult> {
  const say = o.log ?? (() => {});
  const loadavgAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  const server = await startPglite();
  const pool = createPool({ url: server.url, max: 4 });
  const scratch = await mkdtemp(join(tmpdir(), 'bench-stores-model-'));
  try {
    const modelDir = o.tiny ? join(scratch, 'tiny') : await randomModel(join(scratch, 'random'));
    if (o.tiny) await writeTinyModel(modelDir);
    const embedder = await openEmbedder(modelDir, { workers: 0 });
    const trips: number[] = [];
    for (let i = 0; i < 200; i++) {
      const t = performance.now();
      await pool.query('SELECT 1');
      trips.push(performance.now() - t);
    }
    const roundTripMs = Math.round(trips.sort((a, b) => a - b)[100] * 1000) / 1000;
    const vectors: VectorBenchResult[] = [];
    const params = { ...DEFAULT_HNSW_PARAMS, M: o.M, efConstruction: o.efConstruction };
    const common = { k: o.k, efs: o.efs, params, exactQueries: o.exactQueries, enrolments: o.enrolments, embedder, pool, databaseUrl: server.url, log: say };
    try {
      if (o.count > 0) {
        const all = clusteredVectors(o.count + o.queries, o.dim, 1, Math.max(10, Math.round(o.count / 100)));
        vectors.push(await runVectorBench(holdOut(`synthetic-${o.dim}d`, all, o.dim, o.queries), common));
      }
      if (o.fashion > 0) {
        const { vectors: all, dim } = await embedFashionMnist(o.tiny ? modelDir : await randomModel(join(scratch, 'fashion')), o.fashion, 2, say);
        vectors.push(await runVectorBench(holdOut('fashion-mnist', all, dim, o.queries), common));
      }
    } finally {
      await embedder.close();
    }
    const http = o.httpImages > 0 ? await runHttpBench({ images: o.httpImages, seconds: o.seconds, connections: o.connections, work: o.work, tiny: o.tiny, pool, databaseUrl: server.url, log: say }) : null;
    return { loadavgAtStart, roundTripMs, vectors, http };
  } finally {
    await pool.end();
    await server.stop();
    await rm(scratch, { recursive: true, force: true });
  }
}

const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(1)}x` : '-');

export function storeBenchMarkdown(r: StoreBenchResult, command: string, loadavgAtEnd: number[]): string {
  const out = [
    '# Vector stores: local HNSW snapshots vs Postgres + pgvector (PGlite)',
    '',
    `Command: \`${command}\``,
    '',
    `Load average at start ${r.loadavgAtStart.join(' / ')}, at end ${loadavgAtEnd.join(' / ')} (2 shared cores): compare the ratios, not the absolute numbers.`,
    `Postgres is PGlite 0.5 (Postgres 18 + pgvector 0.8 compiled to WebAssembly: one backend on one thread) in its own process, reached over the wire protocol by \`pg\`; one round trip (\`SELECT 1\`) takes ${r.roundTripMs} ms (median).`,
    '',
  ];
  for (const v of r.vectors) {
    const [local, pg] = v.runs;
    out.push(`## ${v.name}: ${v.count} vectors of ${v.dim} dimensions, ${v.queries} held-out queries, recall@${v.k}`, '');
    out.push(`M ${v.params.M}, ef_construction ${v.params.efConstruction}. Exact scan in JavaScript: ${v.exactJs.qps} queries/s${pg.exact ? `; pgvector's exact scan (no index): ${pg.exact.qps} queries/s, recall ${pg.exact.recall}` : ''}.`, '');
    out.push(
      table(
        local.rows.map((l, i) => {
          const p = pg.rows[i];
          return { ef: l.ef, 'local recall': l.recall.toFixed(4), 'local q/s': Math.round(l.qps), 'pgvector recall': p.recall.toFixed(4), 'pgvector q/s': Math.round(p.qps), 'local / pgvector q/s': ratio(l.qps, p.qps) };
        }),
      ),
      '',
    );
    out.push(
      table(
        v.runs.map((e) => ({ store: e.store, 'build s': e.buildSeconds, 'size MiB': e.sizeMiB, 'graph MiB': e.graphMiB, 'cold start ms': e.coldStartMs, 'enrolments/s': e.enrolPerSecond })),
      ),
      '',
      `Build: local ${ratio(pg.buildSeconds, local.buildSeconds)} faster. Enrolments: local ${ratio(local.enrolPerSecond, pg.enrolPerSecond)} the rate of pgvector.`,
      '',
    );
  }
  if (r.http) {
    const h = r.http;
    out.push(`## /v1/search over HTTP: ${h.images} gallery images (${h.gallery}), ${h.model}`, '');
    out.push(table(h.load.map((l) => ({ store: l.store, connections: l.connections, 'requests/s': l.rps, 'p50 ms': l.p50, 'p99 ms': l.p99, requests: l.requests, failed: l.failed }))), '');
    out.push('The same load while a new generation is built and published (from two seconds before until one second after):', '');
    out.push(table(h.publish.map((l) => ({ store: l.store, during: l.what, seconds: l.reindexSeconds, requests: l.requests, failed: l.failed, 'p50 ms': l.p50, 'p99 ms': l.p99, 'before → after': `${l.before} → ${l.after}` }))), '');
  }
  return `${out.join('\n')}\n`;
}

const list = (v: string): number[] => v.split(',').map(Number);

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const program = new Command('bench:stores')
    .option('--count <n>', 'synthetic vectors (0 = skip)', parseNonNegativeInteger, 100_000)
    .option('--dim <n>', 'synthetic dimension', parsePositiveInteger, 64)
    .option('--fashion <n>', 'Fashion-MNIST images embedded (0 = skip)', parseNonNegativeInteger, 70_000)
    .option('--queries <n>', 'held-out queries', parsePositiveInteger, 500)
    .option('--ef <list>', 'ef (hnsw.ef_search) values', list, [20, 40, 100, 200])
    .option('--m <n>', 'M (m)', parsePositiveInteger, 16)
    .option('--ef-construction <n>', 'efConstruction (ef_construction)', parsePositiveInteger, 200)
    .option('--exact-queries <n>', "queries for pgvector's exact scan", parseNonNegativeInteger, 20)
    .option('--enrolments <n>', 'enrolments timed per store', parseNonNegativeInteger, 200)
    .option('--http-images <n>', 'gallery images of the HTTP part (0 = skip)', parseNonNegativeInteger, 10_000)
    .option('--seconds <n>', 'seconds per HTTP load run', parsePositiveInteger, 20)
    .option('--connections <n>', 'HTTP connections', parsePositiveInteger, 16)
    .option('--work <dir>', 'cache of the HTTP gallery, model and local index', 'tmp/api-bench')
    .option('--out <dir>', 'results folder', 'bench/results')
    .option('--smoke', 'tiny model and images, for a quick check');
  program.parse();
  const f = program.opts<{ count: number; dim: number; fashion: number; queries: number; ef: number[]; m: number; efConstruction: number; exactQueries: number; enrolments: number; httpImages: number; seconds: number; connections: number; work: string; out: string; smoke?: boolean }>();
  const result = await runStoreBench({
    count: f.count,
    dim: f.dim,
    fashion: f.fashion,
    queries: f.queries,
    efs: f.ef,
    k: 10,
    M: f.m,
    efConstruction: f.efConstruction,
    exactQueries: f.exactQueries,
    enrolments: f.enrolments,
    httpImages: f.httpImages,
    seconds: f.seconds,
    connections: f.connections,
    work: resolve(f.work),
    tiny: f.smoke,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const command = `npm run bench:stores -- ${process.argv.slice(2).join(' ')}`.trim();
  const written = await writeResults(f.out, 'pgvector', result, storeBenchMarkdown(result, command, loadavg().map((x) => Math.round(x * 100) / 100)));
  process.stderr.write(`wrote ${written.join(', ')}\n`);
}
