/**
 * Benchmark (b): a large synthetic index — build time, memory, recall@k against the exact scan
 * and queries/s — by default 1,000,000 64-d vectors.
 *
 *   npx tsx scripts/index-bench-synthetic.ts [--count 1000000] [--dim 64] [--m 16] [--ef-construction 200]
 *       [--ef 50,100,200,400] [--queries 200] [--distribution clustered|uniform]
 *
 * `clustered` (default): unit vectors around 1,000 random centres, like the embeddings of a
 * gallery of many identities; `uniform`: i.i.d. uniform coordinates, the hardest case for
 * graph search. Queries are fresh vectors from the same distribution (not in the index).
 * At 1M vectors this takes tens of minutes on one core (graph build is single-threaded here).
 * Results: bench/results/index-synthetic.{json,md}.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng } from '../src/data/rng.js';
import { exactSearch, recallAtK } from '../src/index/exact.js';
import { addRows, createHnsw, loadHnsw } from '../src/index/hnsw.js';
import { memoryMiB, table, writeResults } from './bench-common.js';

const repo = resolve(import.meta.dirname, '..');

export interface SyntheticBenchOptions {
  count: number;
  dim: number;
  M: number;
  efConstruction: number;
  efs: number[];
  queries: number;
  k: number;
  distribution: 'clustered' | 'uniform';
  seed: number;
  log?: (line: string) => void;
}

export interface SyntheticBenchResult {
  count: number;
  dim: number;
  distribution: string;
  M: number;
  efConstruction: number;
  buildSeconds: number;
  insertsPerSecond: number;
  memoryMiB: { before: ReturnType<typeof memoryMiB>; after: ReturnType<typeof memoryMiB> };
  fileMiB: number;
  writeSeconds: number;
  readSeconds: number;
  exact: { qps: number; msPerQuery: number };
  rows: { ef: number; recall: number; qps: number; msPerQuery: number }[];
}

/** Fills `count` rows of `dim` with the chosen distribution (clustered rows are unit length). */
export function syntheticVectors(count: number, dim: number, distribution: 'clustered' | 'uniform', rng: ReturnType<typeof createRng>, centres?: Float32Array): Float32Array {
  const out = new Float32Array(count * dim);
  if (distribution === 'uniform') {
    for (let i = 0; i < out.length; i++) out[i] = rng.next();
    return out;
  }
  const c = centres as Float32Array;
  const clusters = c.length / dim;
  for (let i = 0; i < count; i++) {
    const k = rng.int(clusters);
    let norm = 0;
    for (let j = 0; j < dim; j++) {
      const v = c[k * dim + j] + 0.35 * rng.normal();
      out[i * dim + j] = v;
      norm += v * v;
    }
    const inv = 1 / Math.sqrt(norm);
    for (let j = 0; j < dim; j++) out[i * dim + j] *= inv;
  }
  return out;
}

/**
 * @example
 * const r = await runSyntheticBench({ count: 1_000_000, dim: 64, M: 16, efConstruction: 200, efs: [100], queries: 200, k: 10, distribution: 'clustered', seed: 1 });
 */
export async function runSyntheticBench(o: SyntheticBenchOptions): Promise<SyntheticBenchResult> {
  const log = o.log ?? (() => {});
  const rng = createRng(o.seed);
  const centres = Float32Array.from({ length: 1000 * o.dim }, () => rng.normal());
  log(`generating ${o.count} ${o.distribution} ${o.dim}-d vectors`);
  const vectors = syntheticVectors(o.count, o.dim, o.distribution, rng, centres);
  const queryData = syntheticVectors(o.queries, o.dim, o.distribution, rng, centres);
  const queries = Array.from({ length: o.queries }, (_, i) => Array.from(queryData.subarray(i * o.dim, (i + 1) * o.dim)));

  const before = memoryMiB();
  let started = performance.now();
  const index = createHnsw(o.dim, o.count, { M: o.M, efConstruction: o.efConstruction, ef: 10, randomSeed: 100 });
  const rows = Array.from({ length: o.count }, (_, i) => i);
  let lastLog = 0;
  await addRows(index, vectors, o.dim, rows, rows, (done, total) => {
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`inserted ${done}/${total} (${(done / ((performance.now() - started) / 1000)).toFixed(0)}/s)`);
    }
  }, 10_000);
  const buildSeconds = (performance.now() - started) / 1000;
  const after = memoryMiB();
  log(`built in ${buildSeconds.toFixed(1)} s`);

  const scratch = await mkdtemp(join(tmpdir(), 'bench-synth-'));
  const file = join(scratch, 'hnsw.bin');
  started = performance.now();
  await index.writeIndex(file);
  const writeSeconds = (performance.now() - started) / 1000;
  const fileMiB = (await stat(file)).size / 2 ** 20;
  started = performance.now();
  const loaded = await loadHnsw(file, o.dim, 10);
  const readSeconds = (performance.now() - started) / 1000;
  await rm(scratch, { recursive: true, force: true });

  log(`exact scan of ${o.queries} queries`);
  started = performance.now();
  const truth = queries.map((q) => exactSearch(vectors, o.dim, q, o.k).map((h) => h.row));
  const exactSeconds = (performance.now() - started) / 1000;

  const results: SyntheticBenchResult['rows'] = [];
  for (const ef of o.efs) {
    loaded.setEf(ef);
    started = performance.now();
    const found = queries.map((q) => loaded.searchKnn(q, o.k).neighbors);
    const seconds = (performance.now() - started) / 1000;
    results.push({ ef, recall: recallAtK(found, truth, o.k), qps: o.queries / seconds, msPerQuery: (seconds * 1000) / o.queries });
    log(`ef=${ef}: recall@${o.k} ${results.at(-1)?.recall.toFixed(4)}, ${results.at(-1)?.qps.toFixed(0)} q/s`);
  }
  return {
    count: o.count,
    dim: o.dim,
    distribution: o.distribution,
    M: o.M,
    efConstruction: o.efConstruction,
    buildSeconds,
    insertsPerSecond: o.count / buildSeconds,
    memoryMiB: { before, after },
    fileMiB,
    writeSeconds,
    readSeconds,
    exact: { qps: o.queries / exactSeconds, msPerQuery: (exactSeconds * 1000) / o.queries },
    rows: results,
  };
}

export function syntheticMarkdown(r: SyntheticBenchResult, command: string): string {
  return [
    `# Synthetic HNSW run: ${r.count} ${r.dim}-d ${r.distribution} vectors, M ${r.M}, efConstruction ${r.efConstruction}`,
    '',
    `Command: \`${command}\``,
    '',
    `Build ${r.buildSeconds.toFixed(1)} s (${r.insertsPerSecond.toFixed(0)} inserts/s, one thread); RSS ${r.memoryMiB.before.rss} → ${r.memoryMiB.after.rss} MiB;` +
      ` hnsw.bin ${r.fileMiB.toFixed(1)} MiB, written in ${r.writeSeconds.toFixed(2)} s, read in ${r.readSeconds.toFixed(2)} s.`,
    `Exact scan: ${r.exact.qps.toFixed(1)} queries/s (${r.exact.msPerQuery.toFixed(1)} ms/query).`,
    '',
    table(r.rows.map((x) => ({ ef: x.ef, 'recall@10': x.recall.toFixed(4), 'queries/s': x.qps.toFixed(0), 'ms/query': x.msPerQuery.toFixed(3) }))),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '1000000' },
      dim: { type: 'string', default: '64' },
      m: { type: 'string', default: '16' },
      'ef-construction': { type: 'string', default: '200' },
      ef: { type: 'string', default: '50,100,200,400' },
      queries: { type: 'string', default: '200' },
      k: { type: 'string', default: '10' },
      distribution: { type: 'string', default: 'clustered' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: join(repo, 'bench/results') },
    },
  });
  const distribution = values.distribution === 'uniform' ? 'uniform' : 'clustered';
  const result = await runSyntheticBench({
    count: Number(values.count),
    dim: Number(values.dim),
    M: Number(values.m),
    efConstruction: Number(values['ef-construction']),
    efs: (values.ef as string).split(',').map(Number),
    queries: Number(values.queries),
    k: Number(values.k),
    distribution,
    seed: Number(values.seed),
    log: (l) => console.log(l),
  });
  const md = syntheticMarkdown(result, `npx tsx scripts/index-bench-synthetic.ts ${process.argv.slice(2).join(' ')}`.trim());
  const files = await writeResults(values.out as string, 'index-synthetic', result, md);
  console.log(md);
  console.log(`wrote ${files.join(', ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
