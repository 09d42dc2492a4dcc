/**
 * `npm run bench -- index-recall`: recall@k of HNSW against the exact scan, and queries/s of both,
 * on real embeddings: the 70,000 Fashion-MNIST images (Debian package dataset-fashion-mnist)
 * embedded by a model, across M and ef. Writes bench/results/index-recall.{json,md}.
 *
 *   npm run bench -- index-recall [--model DIR] [--limit 70000] [--queries 1000]
 *       [--m 8,16,32] [--ef-construction 200] [--ef 10,20,40,60,80,100,160,320] [--k 10] [--workers 2]
 *
 * Without --model it uses a random-weight conv4 tower (64-d, L2-normalised): the numbers then
 * describe the index on image-derived vectors, not a trained model's. Every indexed image is
 * also a candidate query; a query's own point is left out of both result lists, so recall
 * measures finding its true neighbours, not itself. Embeddings are cached (embeddings.ts).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { parseNonNegativeInteger, parsePositiveInteger } from '../../src/cli/common.js';
import { createRng } from '../../src/data/rng.js';
import { exactSearch, recallAtK } from '../../src/index/exact.js';
import { addRows, createHnsw } from '../../src/index/hnsw.js';
import { memoryMiB, numberList, table, writeResults } from './common.js';
import { RESULTS_DIR, suiteCommand } from './context.js';
import { randomModel } from './data.js';
import { embedFashionMnist, type EmbedTiming } from './embeddings.js';
import { clusteredVectors } from './vectors.js';

export interface RecallBenchOptions {
  /** Model directory; default: a random conv4 tower saved to a temp folder. */
  modelDir?: string;
  limit: number;
  queries: number;
  ms: number[];
  efConstruction: number;
  efs: number[];
  k: number;
  workers: number;
  seed: number;
  /** Use synthetic vectors instead of Fashion-MNIST (smoke tests). */
  synthetic?: { count: number; dim: number };
  log?: (line: string) => void;
}

export interface RecallRow {
  M: number;
  efConstruction: number;
  ef: number;
  recall: number;
  qps: number;
  msPerQuery: number;
}

export interface RecallBenchResult {
  source: string;
  modelId: string;
  count: number;
  dim: number;
  queries: number;
  k: number;
  embed: EmbedTiming;
  exact: { qps: number; msPerQuery: number };
  builds: { M: number; efConstruction: number; seconds: number; fileMiB: number }[];
  rows: RecallRow[];
}

/** Neighbours of each query row, its own row left out. */
function withoutSelf(ids: number[], self: number, k: number): number[] {
  return ids.filter((id) => id !== self).slice(0, k);
}

/**
 * @example
 * const result = await runRecallBench({ limit: 70_000, queries: 1000, ms: [16], efConstruction: 200, efs: [50, 100], k: 10, workers: 2, seed: 1 });
 */
export async function runRecallBench(o: RecallBenchOptions): Promise<RecallBenchResult> {
  const log = o.log ?? (() => {});
  let vectors: Float32Array;
  let dim: number;
  let modelId: string;
  let embed: RecallBenchResult['embed'] = null;
  let source: string;
  if (o.synthetic) {
    ({ dim } = o.synthetic);
    vectors = clusteredVectors(o.synthetic.count, dim, o.seed);
    modelId = 'synthetic';
    source = `synthetic clustered ${dim}-d`;
  } else {
    const temp = o.modelDir ? null : await mkdtemp(join(tmpdir(), 'bench-model-'));
    const modelDir = o.modelDir ?? (await randomModel(temp as string));
    ({ vectors, dim, modelId, embed } = await embedFashionMnist(modelDir, o.limit, o.workers, log));
    if (temp) await rm(temp, { recursive: true, force: true });
    source = `Fashion-MNIST (${o.modelDir ? 'model' : 'random-weight conv4 tower'})`;
  }
  const count = vectors.length / dim;
  const rng = createRng(o.seed);
  const queryRows = rng.shuffle(Array.from({ length: count }, (_, i) => i)).slice(0, Math.min(o.queries, count));
  const queries = queryRows.map((row) => Array.from(vectors.subarray(row * dim, (row + 1) * dim)));

  log(`exact scan of ${queries.length} queries over ${count} vectors`);
  let started = performance.now();
  const truth = queries.map((q, i) => withoutSelf(exactSearch(vectors, dim, q, o.k + 1).map((h) => h.row), queryRows[i], o.k));
  const exactSeconds = (performance.now() - started) / 1000;
  const exact = { qps: queries.length / exactSeconds, msPerQuery: (exactSeconds * 1000) / queries.length };

  const builds: RecallBenchResult['builds'] = [];
  const rows: RecallRow[] = [];
  const scratch = await mkdtemp(join(tmpdir(), 'bench-hnsw-'));
  const allRows = Array.from({ length: count }, (_, i) => i);
  for (const M of o.ms) {
    log(`building M=${M} efConstruction=${o.efConstruction}`);
    const params = { M, efConstruction: o.efConstruction, ef: 10, randomSeed: 100 };
    started = performance.now();
    const index = createHnsw(dim, count, params);
    await addRows(index, vectors, dim, allRows, allRows);
    const seconds = (performance.now() - started) / 1000;
    const file = join(scratch, `M${M}.bin`);
    await index.writeIndex(file);
    builds.push({ M, efConstruction: o.efConstruction, seconds, fileMiB: (await stat(file)).size / 2 ** 20 });
    await rm(file);
    for (const ef of o.efs) {
      index.setEf(ef);
      const found: number[][] = [];
      started = performance.now();
      for (let i = 0; i < queries.length; i++) found.push(index.searchKnn(queries[i], o.k + 1).neighbors);
      const searchSeconds = (performance.now() - started) / 1000;
      const approx = found.map((ids, i) => withoutSelf(ids, queryRows[i], o.k));
      rows.push({ M, efConstruction: o.efConstruction, ef, recall: recallAtK(approx, truth, o.k), qps: queries.length / searchSeconds, msPerQuery: (searchSeconds * 1000) / queries.length });
      log(`M=${M} ef=${ef}: recall@${o.k} ${rows.at(-1)?.recall.toFixed(4)}, ${rows.at(-1)?.qps.toFixed(0)} q/s`);
    }
  }
  await rm(scratch, { recursive: true, force: true });
  log(`memory ${JSON.stringify(memoryMiB())}`);
  return { source, modelId, count, dim, queries: queries.length, k: o.k, embed, exact, builds, rows };
}

export function recallMarkdown(r: RecallBenchResult, command: string): string {
  return [
    `# HNSW recall@${r.k} vs exact scan: ${r.count} ${r.dim}-d vectors, ${r.source}`,
    '',
    `Command: \`${command}\``,
    '',
    `Model ${r.modelId}; ${r.queries} queries drawn from the indexed set, each query's own point excluded from both result lists.`,
    r.embed ? `Embedding: ${r.embed.seconds.toFixed(1)} s (${r.embed.imagesPerSecond.toFixed(0)} images/s).` : '',
    `Exact scan (JS, one thread): ${r.exact.qps.toFixed(1)} queries/s (${r.exact.msPerQuery.toFixed(2)} ms/query).`,
    '',
    table(r.builds.map((b) => ({ M: b.M, efConstruction: b.efConstruction, 'build s': b.seconds.toFixed(1), 'hnsw.bin MiB': b.fileMiB.toFixed(1) }))),
    '',
    table(r.rows.map((x) => ({ M: x.M, ef: x.ef, [`recall@${r.k}`]: x.recall.toFixed(4), 'queries/s': x.qps.toFixed(0), 'ms/query': x.msPerQuery.toFixed(3), 'speed-up vs exact': (x.qps / r.exact.qps).toFixed(0) }))),
    '',
  ].join('\n');
}

export function indexRecallBenchCommand(): Command {
  return new Command('index-recall')
    .description('HNSW recall@k and queries/s vs the exact scan on Fashion-MNIST embeddings, across M and ef')
    .option('--model <dir>', 'model directory (default: a random conv4 tower)')
    .option('--limit <n>', 'Fashion-MNIST images', parsePositiveInteger, 70_000)
    .option('--queries <n>', 'queries drawn from the indexed set', parsePositiveInteger, 1000)
    .option('--m <list>', 'M values', numberList, [8, 16, 32])
    .option('--ef-construction <n>', 'efConstruction', parsePositiveInteger, 200)
    .option('--ef <list>', 'ef values', numberList, [10, 20, 40, 60, 80, 100, 160, 320])
    .option('--k <n>', 'neighbours per query', parsePositiveInteger, 10)
    .option('--workers <n>', 'embedding workers', parseNonNegativeInteger, 2)
    .option('--seed <n>', 'seed', parseNonNegativeInteger, 1)
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { model?: string; limit: number; queries: number; m: number[]; efConstruction: number; ef: number[]; k: number; workers: number; seed: number; out: string }) => {
      const result = await runRecallBench({ ...f, modelDir: f.model, ms: f.m, efs: f.ef, log: (l) => process.stderr.write(`${l}\n`) });
      const md = recallMarkdown(result, suiteCommand('index-recall'));
      await writeResults(f.out, 'index-recall', result, md);
      process.stdout.write(`${md}\n`);
    });
}
