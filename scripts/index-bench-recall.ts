/**
 * Benchmark (a): recall@k of HNSW against the exact scan, and queries/s of both, on real
 * embeddings: the 70,000 Fashion-MNIST images (Debian package dataset-fashion-mnist) embedded
 * by a model, across M and ef.
 *
 *   npx tsx scripts/index-bench-recall.ts [--model DIR] [--limit 70000] [--queries 1000]
 *       [--m 8,16,32] [--ef-construction 200] [--ef 10,20,40,80,100,160,320] [--k 10] [--workers 2]
 *
 * Without --model it uses a random-weight conv4 tower (64-d, L2-normalised): the numbers then
 * describe the index on image-derived vectors, not a trained model's. Every indexed image is
 * also a candidate query; a query's own point is left out of both result lists, so recall
 * measures finding its true neighbours, not itself. Embeddings are cached in the temp folder
 * by model id (it hashes weights, preprocessing and tower) and image count. Results: bench/results/index-recall.{json,md}.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { toModelInput } from '../src/data/preprocess.js';
import { createRng } from '../src/data/rng.js';
import { parseModelCard } from '../src/model/card.js';
import { MODEL_CARD_FILE } from '../src/model/io.js';
import { startRunner } from '../src/embedding/index.js';
import { exactSearch, recallAtK } from '../src/index/exact.js';
import { addRows, createHnsw } from '../src/index/hnsw.js';
import {
  EMBEDDING_CACHE_DIR,
  embeddingCacheFile,
  fashionMnist,
  memoryMiB,
  randomModel,
  readCachedVectors,
  table,
  writeCachedVectors,
  writeResults,
} from './bench-common.js';
import { syntheticVectors } from './index-bench-synthetic.js';

const repo = resolve(import.meta.dirname, '..');

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
  embed: { seconds: number; imagesPerSecond: number; cached: boolean } | null;
  exact: { qps: number; msPerQuery: number };
  builds: { M: number; efConstruction: number; seconds: number; fileMiB: number }[];
  rows: RecallRow[];
}

/**
 * Embeds the first `limit` Fashion-MNIST images with the model, cached in `cacheDir` by model id and count.
 *
 * @example
 * const { vectors, dim, embed } = await embedFashionMnist('models/omniglot', 70_000, 2, console.log);
 * // embed === null when the vectors came from the cache
 */
export async function embedFashionMnist(
  modelDir: string,
  limit: number,
  workers: number,
  log: (l: string) => void,
  cacheDir: string = EMBEDDING_CACHE_DIR,
): Promise<{ vectors: Float32Array; dim: number; modelId: string; embed: RecallBenchResult['embed'] }> {
  const card = parseModelCard(await readFile(join(modelDir, MODEL_CARD_FILE), 'utf8'));
  const pre = card.preprocess;
  if (pre.width !== 28 || pre.height !== 28 || pre.channels !== 1) throw new Error(`the benchmark feeds 28x28x1 Fashion-MNIST images; the model wants ${pre.width}x${pre.height}x${pre.channels}`);
  const cacheFile = embeddingCacheFile(cacheDir, 'fashion-mnist', card.modelId, { limit });
  const cached = await readCachedVectors(cacheFile, card.embeddingSize);
  if (cached) {
    log(`embeddings from cache ${cacheFile}`);
    return { vectors: cached, dim: card.embeddingSize, modelId: card.modelId, embed: null };
  }
  const { images, count } = await fashionMnist(limit);
  const runner = await startRunner(modelDir, card, { workers, batchSize: 128, backend: 'wasm' });
  const started = performance.now();
  const vectors = new Float32Array(count * card.embeddingSize);
  const chunk = 1024;
  const jobs: Promise<void>[] = [];
  for (let start = 0; start < count; start += chunk) {
    const end = Math.min(count, start + chunk);
    const data = new Float32Array((end - start) * 784);
    for (let i = start; i < end; i++) toModelInput(images.subarray(i * 784, (i + 1) * 784), pre, data.subarray((i - start) * 784, (i - start + 1) * 784));
    jobs.push(runner.run(data, end - start).then((out) => vectors.set(out, start * card.embeddingSize)));
    if (jobs.length >= runner.slots * 2) await Promise.all(jobs.splice(0, runner.slots));
    if (start % (chunk * 10) === 0) log(`embedded ${start}/${count}`);
  }
  await Promise.all(jobs);
  await runner.close();
  const seconds = (performance.now() - started) / 1000;
  await writeCachedVectors(cacheFile, vectors);
  return { vectors, dim: card.embeddingSize, modelId: card.modelId, embed: { seconds, imagesPerSecond: count / seconds, cached: false } };
}

/** Clustered unit vectors (a stand-in for embeddings in smoke runs): `clusters` random centres, then rows around them. */
export function clusteredVectors(count: number, dim: number, seed: number, clusters = 100): Float32Array {
  const rng = createRng(seed);
  const centres = Float32Array.from({ length: clusters * dim }, () => rng.normal());
  return syntheticVectors(count, dim, 'clustered', rng, centres);
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

const list = (s: string): number[] => s.split(',').map(Number);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      limit: { type: 'string', default: '70000' },
      queries: { type: 'string', default: '1000' },
      m: { type: 'string', default: '8,16,32' },
      'ef-construction': { type: 'string', default: '200' },
      ef: { type: 'string', default: '10,20,40,60,80,100,160,320' },
      k: { type: 'string', default: '10' },
      workers: { type: 'string', default: '2' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: join(repo, 'bench/results') },
    },
  });
  const result = await runRecallBench({
    modelDir: values.model,
    limit: Number(values.limit),
    queries: Number(values.queries),
    ms: list(values.m as string),
    efConstruction: Number(values['ef-construction']),
    efs: list(values.ef as string),
    k: Number(values.k),
    workers: Number(values.workers),
    seed: Number(values.seed),
    log: (l) => console.log(l),
  });
  const md = recallMarkdown(result, `npx tsx scripts/index-bench-recall.ts ${process.argv.slice(2).join(' ')}`.trim());
  const files = await writeResults(values.out as string, 'index-recall', result, md);
  console.log(md);
  console.log(`wrote ${files.join(', ')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
