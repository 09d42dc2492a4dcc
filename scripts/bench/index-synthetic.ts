/**
 * `npm run bench -- index-synthetic`: a large synthetic index — build time, memory, recall@k
 * against the exact scan and queries/s — by default 1,000,000 64-d vectors. Writes
 * bench/results/index-synthetic.{json,md}.
 *
 *   npm run bench -- index-synthetic [--count 1000000] [--dim 64] [--m 16] [--ef-construction 200]
 *       [--ef 50,100,200,400] [--queries 200] [--distribution clustered|uniform]
 *
 * `clustered` (default): unit vectors around 1,000 random centres, like the embeddings of a
 * gallery of many identities; `uniform`: i.i.d. uniform coordinates, the hardest case for
 * graph search. Queries are fresh vectors from the same distribution (not in the index).
 * At 1M vectors this takes tens of minutes on one core (graph build is single-threaded here).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseNonNegativeInteger, parsePositiveInteger } from '../../src/cli/common.js';
import { createRng } from '../../src/data/rng.js';
import { exactSearch, recallAtK } from '../../src/index/exact.js';
import { addRows, createHnsw, loadHnsw } from '../../src/index/hnsw.js';
import { memoryMiB, numberList, table, writeResults } from './common.js';
import { RESULTS_DIR, suiteCommand } from './context.js';
import { syntheticVectors, type Distribution } from './vectors.js';

export interface SyntheticBenchOptions {
  count: number;
  dim: number;
  M: number;
  efConstruction: number;
  efs: number[];
  queries: number;
  k: number;
  distribution: Distribution;
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

export function indexSyntheticBenchCommand(): Command {
  return new Command('index-synthetic')
    .description('a large synthetic HNSW index: build time, memory, recall@k and queries/s')
    .option('--count <n>', 'vectors', parsePositiveInteger, 1_000_000)
    .option('--dim <n>', 'dimensions', parsePositiveInteger, 64)
    .option('--m <n>', 'M', parsePositiveInteger, 16)
    .option('--ef-construction <n>', 'efConstruction', parsePositiveInteger, 200)
    .option('--ef <list>', 'ef values', numberList, [50, 100, 200, 400])
    .option('--queries <n>', 'queries (fresh vectors)', parsePositiveInteger, 200)
    .option('--k <n>', 'neighbours per query', parsePositiveInteger, 10)
    .option('--distribution <name>', 'clustered or uniform', (v: string): Distribution => (v === 'uniform' ? 'uniform' : 'clustered'), 'clustered' as Distribution)
    .option('--seed <n>', 'seed', parseNonNegativeInteger, 1)
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { count: number; dim: number; m: number; efConstruction: number; ef: number[]; queries: number; k: number; distribution: Distribution; seed: number; out: string }) => {
      const result = await runSyntheticBench({ ...f, M: f.m, efs: f.ef, log: (l) => process.stderr.write(`${l}\n`) });
      const md = syntheticMarkdown(result, suiteCommand('index-synthetic'));
      await writeResults(f.out, 'index-synthetic', result, md);
      process.stdout.write(`${md}\n`);
    });
}
