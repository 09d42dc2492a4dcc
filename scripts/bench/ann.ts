/**
 * ANN engines side by side on the same vectors: hnswlib-node (what twinsearch uses, through
 * src/index/hnsw.ts) vs usearch (another HNSW engine) vs exact scans (twinsearch's JS scan and
 * usearch's SIMD scan): build time, memory, index size, queries/s and recall@10 across ef — a
 * recall/QPS curve, plotted — on real embeddings (Fashion-MNIST 70k and Omniglot 32k, embedded
 * by a trained model) and on 1,000,000 synthetic 64-d vectors.
 *
 *   npm run bench -- ann [--datasets fashion,omniglot,synthetic] [--m 8,16,32] [--ef 10,20,40,60,100,160,320]
 *       [--queries 1000] [--synthetic-count 1000000] [--synthetic-queries 200] [--engines hnswlib,usearch,usearch-exact]
 *
 * Queries are held out: real sets index all but `queries` images and query with those; synthetic
 * queries are fresh vectors from the same distribution. Every engine runs in its own process
 * (memory measured alone), builds on one thread and answers one query per call on one thread,
 * as the server does. Writes bench/results/ann.{json,md} and ann-recall-qps.{svg,png}.
 */
import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { parseNonNegativeInteger, parsePositiveInteger } from '../../src/cli/common.js';
import { createRng } from '../../src/data/rng.js';
import { exactSearch } from '../../src/index/exact.js';
import { DEFAULT_HNSW_PARAMS } from '../../src/index/hnsw.js';
import { vectorsToBytes } from '../../src/index/vectors.js';
import { parseModelCard } from '../../src/model/card.js';
import { MODEL_CARD_FILE } from '../../src/model/io.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import type { AnnChildJob, AnnChildResult, AnnEngine } from './ann-child.js';
import { annPlot } from './ann-plot.js';
import { annMarkdown } from './ann-report.js';
import { numberList, writeResults } from './common.js';
import { REPO_ROOT, RESULTS_DIR, sectionContext, suiteCommand, type SectionContext } from './context.js';
import { randomModel } from './data.js';
import { embedFashionMnist, embedOmniglot } from './embeddings.js';
import { clusteredVectors, syntheticVectors } from './vectors.js';

const run = promisify(execFile);

export type AnnDatasetName = 'fashion' | 'omniglot' | 'synthetic' | 'tiny';

export interface AnnBenchOptions {
  datasets: AnnDatasetName[];
  engines: AnnEngine[];
  ms: number[];
  /** M values for the synthetic set (its builds are the slow ones). */
  syntheticMs: number[];
  efConstruction: number;
  efs: number[];
  k: number;
  queries: number;
  syntheticCount: number;
  syntheticQueries: number;
  /** Embedding workers for the real sets. */
  workers: number;
  seed: number;
  /** Model directory; default models/omniglot, else models/sample, else a random conv4 tower. */
  modelDir?: string;
  /** Size of the `tiny` (smoke) set. */
  tinyCount?: number;
  /** Folder for ann-recall-qps.{svg,png}; none: no plot. */
  plotDir?: string;
  command?: string;
  log?: (line: string) => void;
  /** Called after each dataset with the results so far (the command saves them, so a long run that is stopped keeps what finished). */
  onProgress?: (partial: AnnBenchResult) => Promise<void>;
}

export interface AnnDatasetResult {
  name: AnnDatasetName;
  description: string;
  count: number;
  dim: number;
  queries: number;
  embedSeconds: number | null;
  /** twinsearch's exact scan (src/index/exact.ts), one query per call: also the ground truth. */
  exact: { qps: number; msPerQuery: number };
  engines: AnnChildResult[];
}

export interface Recommendation {
  target: number;
  /** Per dataset: the fastest point of each engine reaching the target recall. */
  perDataset: { dataset: string; engine: string; M: number; ef: number; recall: number; qps: number; vsExact: number }[];
}

export interface AnnBenchResult {
  context: SectionContext;
  model: { dir: string; id: string; source: string };
  k: number;
  efConstruction: number;
  /** Datasets the run was asked for (a stopped run lists more here than in `datasets`). */
  requested: AnnDatasetName[];
  datasets: AnnDatasetResult[];
  recommendations: Recommendation[];
  /** twinsearch's defaults measured: recall and speed at DEFAULT_HNSW_PARAMS on each dataset. */
  defaults: { M: number; efConstruction: number; ef: number; perDataset: { dataset: string; recall: number; qps: number; vsExact: number }[] };
  plot: string[];
}

interface PreparedSet {
  name: AnnDatasetName;
  description: string;
  dim: number;
  indexed: Float32Array;
  queries: Float32Array;
  embedSeconds: number | null;
}

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** The model that embeds the real sets, and how it was chosen (said in the report). */
async function chooseModel(o: AnnBenchOptions, work: string): Promise<{ dir: string; id: string; source: string }> {
  const card = async (dir: string) => parseModelCard(await readFile(join(dir, MODEL_CARD_FILE), 'utf8'));
  if (o.modelDir) return { dir: o.modelDir, id: (await card(o.modelDir)).modelId, source: o.modelDir };
  for (const name of ['omniglot', 'sample']) {
    const dir = join(REPO_ROOT, 'models', name);
    if (await exists(join(dir, MODEL_CARD_FILE))) return { dir, id: (await card(dir)).modelId, source: `models/${name} (trained)` };
  }
  const dir = await randomModel(join(work, 'random-model'));
  return { dir, id: (await card(dir)).modelId, source: 'random-weight conv4 tower (no trained model found)' };
}

/** Splits rows into `queries` held-out query rows and the rest, by a seeded shuffle. */
function holdOut(vectors: Float32Array, dim: number, queries: number, seed: number): { indexed: Float32Array; queries: Float32Array } {
  const count = vectors.length / dim;
  const order = createRng(seed).shuffle(Array.from({ length: count }, (_, i) => i));
  const q = Math.min(queries, Math.floor(count / 2));
  const pick = (rows: number[]): Float32Array => {
    const out = new Float32Array(rows.length * dim);
    rows.forEach((row, i) => out.set(vectors.subarray(row * dim, (row + 1) * dim), i * dim));
    return out;
  };
  return { queries: pick(order.slice(0, q)), indexed: pick(order.slice(q)) };
}

async function prepare(name: AnnDatasetName, o: AnnBenchOptions, modelDir: string, modelSource: string, log: (l: string) => void): Promise<PreparedSet> {
  switch (name) {
    case 'fashion': {
      const e = await embedFashionMnist(modelDir, 70_000, o.workers, log);
      const split = holdOut(e.vectors, e.dim, o.queries, o.seed);
      return { name, dim: e.dim, ...split, embedSeconds: e.embed?.seconds ?? null, description: `Fashion-MNIST, all 70,000 train + test images, embedded by ${modelSource}` };
    }
    case 'omniglot': {
      const e = await embedOmniglot(modelDir, o.workers, log);
      const split = holdOut(e.vectors, e.dim, o.queries, o.seed);
      return { name, dim: e.dim, ...split, embedSeconds: e.seconds, description: `Omniglot, all ${e.vectors.length / e.dim} images (images_background + images_evaluation), embedded by ${modelSource}` };
    }
    case 'synthetic': {
      const dim = 64;
      const rng = createRng(o.seed);
      const centres = Float32Array.from({ length: 1000 * dim }, () => rng.normal());
      log(`generating ${o.syntheticCount} synthetic vectors`);
      const indexed = syntheticVectors(o.syntheticCount, dim, 'clustered', rng, centres);
      const queries = syntheticVectors(o.syntheticQueries, dim, 'clustered', rng, centres);
      return { name, dim, indexed, queries, embedSeconds: null, description: `${o.syntheticCount.toLocaleString('en-US')} synthetic ${dim}-d unit vectors around 1,000 random centres (scripts/bench/vectors.ts); queries are fresh vectors` };
    }
    case 'tiny': {
      const dim = 16;
      const split = holdOut(clusteredVectors(o.tinyCount ?? 2000, dim, o.seed), dim, o.queries, o.seed);
      return { name, dim, ...split, embedSeconds: null, description: `${o.tinyCount ?? 2000} clustered ${dim}-d vectors (smoke test)` };
    }
  }
}

async function runChild(job: AnnChildJob): Promise<AnnChildResult> {
  try {
    const { stdout } = await run(process.execPath, ['--expose-gc', '--import', 'tsx', join(REPO_ROOT, 'scripts', 'bench', 'ann-child.ts'), JSON.stringify(job)], {
      cwd: REPO_ROOT,
      maxBuffer: 1 << 26,
    });
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as AnnChildResult;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? '';
    throw new Error(`${job.engine} M=${job.M} failed: ${stderr.split('\n').slice(-3).join(' ') || String(err)}`);
  }
}

/** Runs the exact scan (the truth) and every engine on one prepared set. */
async function measureSet(set: PreparedSet, o: AnnBenchOptions, scratch: string, log: (l: string) => void): Promise<AnnDatasetResult> {
  const { dim } = set;
  const count = set.indexed.length / dim;
  const queryCount = set.queries.length / dim;
  log(`${set.name}: exact scan of ${queryCount} queries over ${count} vectors`);
  const truth = new Int32Array(queryCount * o.k).fill(-1);
  const started = performance.now();
  for (let i = 0; i < queryCount; i++) {
    exactSearch(set.indexed, dim, set.queries.subarray(i * dim, (i + 1) * dim), o.k).forEach((h, j) => (truth[i * o.k + j] = h.row));
  }
  const exactSeconds = (performance.now() - started) / 1000;
  const dir = join(scratch, set.name);
  await mkdir(dir, { recursive: true });
  const files = { vectorsFile: join(dir, 'vectors.f32'), queriesFile: join(dir, 'queries.f32'), truthFile: join(dir, 'truth.i32') };
  await writeFile(files.vectorsFile, vectorsToBytes(set.indexed));
  await writeFile(files.queriesFile, vectorsToBytes(set.queries));
  await writeFile(files.truthFile, new Uint8Array(truth.buffer));
  const engines: AnnChildResult[] = [];
  const ms = set.name === 'synthetic' ? o.syntheticMs : o.ms;
  for (const engine of o.engines) {
    for (const M of engine === 'usearch-exact' ? [0] : ms) {
      const r = await runChild({ engine, dim, ...files, k: o.k, M, efConstruction: o.efConstruction, efs: o.efs, scratch: dir });
      engines.push(r);
      log(`${set.name} ${engine}${M ? ` M=${M}` : ''}: build ${r.buildSeconds.toFixed(1)} s, +${r.buildRssMiB.toFixed(0)} MiB; ${r.rows.map((p) => `ef ${p.ef} ${p.recall.toFixed(4)} @ ${p.qps.toFixed(0)} q/s`).join('; ')}`);
    }
  }
  await rm(dir, { recursive: true, force: true });
  return { name: set.name, description: set.description, count, dim, queries: queryCount, embedSeconds: set.embedSeconds, exact: { qps: queryCount / exactSeconds, msPerQuery: (exactSeconds * 1000) / queryCount }, engines };
}

/**
 * For each target recall, each engine's fastest (M, ef) reaching it on each dataset.
 *
 * @example
 * recommend(datasets, [0.99, 0.999]);
 */
export function recommend(datasets: AnnDatasetResult[], targets: number[]): Recommendation[] {
  return targets.map((target) => ({
    target,
    perDataset: datasets.flatMap((d) =>
      [...new Set(d.engines.filter((e) => e.engine !== 'usearch-exact').map((e) => e.engine))].flatMap((engine) => {
        const points = d.engines.filter((e) => e.engine === engine).flatMap((e) => e.rows.map((p) => ({ ...p, M: e.M })));
        const ok = points.filter((p) => p.recall >= target);
        if (ok.length === 0) return [];
        const best = ok.reduce((a, b) => (b.qps > a.qps ? b : a));
        return [{ dataset: d.name, engine, M: best.M, ef: best.ef, recall: best.recall, qps: best.qps, vsExact: best.qps / d.exact.qps }];
      }),
    ),
  }));
}

function defaultsMeasured(datasets: AnnDatasetResult[]): AnnBenchResult['defaults'] {
  const p = DEFAULT_HNSW_PARAMS;
  return {
    M: p.M,
    efConstruction: p.efConstruction,
    ef: p.ef,
    perDataset: datasets.flatMap((d) => {
      const point = d.engines.find((e) => e.engine === 'hnswlib' && e.M === p.M)?.rows.find((r) => r.ef === p.ef);
      return point ? [{ dataset: d.name, recall: point.recall, qps: point.qps, vsExact: point.qps / d.exact.qps }] : [];
    }),
  };
}

/**
 * @example
 * const r = await runAnnBench({ datasets: ['fashion', 'omniglot', 'synthetic'], engines: ['hnswlib', 'usearch', 'usearch-exact'], ms: [16, 32], syntheticMs: [16],
 *   efConstruction: 200, efs: [10, 20, 40, 80, 100, 160, 320], k: 10, queries: 1000, syntheticCount: 1_000_000, syntheticQueries: 200, workers: 2, seed: 1 });
 */
export async function runAnnBench(o: AnnBenchOptions): Promise<AnnBenchResult> {
  const log = o.log ?? (() => {});
  const context = sectionContext(o.command ?? 'npm run bench -- ann');
  const scratch = await mkdtemp(join(tmpdir(), 'bench-ann-'));
  try {
    const needsModel = o.datasets.some((d) => d === 'fashion' || d === 'omniglot');
    const model = needsModel ? await chooseModel(o, scratch) : { dir: '', id: 'none', source: 'no model needed (synthetic vectors only)' };
    const datasets: AnnDatasetResult[] = [];
    let result: AnnBenchResult | null = null;
    for (const name of o.datasets) {
      const set = await prepare(name, o, model.dir, model.source, log);
      datasets.push(await measureSet(set, o, scratch, log));
      const plot: string[] = [];
      if (o.plotDir) {
        const p = await annPlot(datasets, o.k);
        await mkdir(o.plotDir, { recursive: true });
        for (const [ext, data] of [['svg', p.svg], ['png', p.png]] as const) {
          const file = join(o.plotDir, `ann-recall-qps.${ext}`);
          await writeFileAtomic(file, data);
          plot.push(file);
        }
      }
      result = { context, model, k: o.k, efConstruction: o.efConstruction, requested: o.datasets, datasets: [...datasets], recommendations: recommend(datasets, [0.99, 0.999]), defaults: defaultsMeasured(datasets), plot };
      await o.onProgress?.(result);
    }
    if (!result) throw new Error('ann: no datasets to measure');
    return result;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export function annBenchCommand(): Command {
  return new Command('ann')
    .description('hnswlib-node vs usearch vs exact scan: build, memory, queries/s and recall@10 across ef')
    .option('--datasets <list>', 'fashion,omniglot,synthetic (tiny: a smoke set)', (v) => v.split(',') as AnnDatasetName[], ['fashion', 'omniglot', 'synthetic'] as AnnDatasetName[])
    .option('--engines <list>', 'hnswlib,usearch,usearch-exact', (v) => v.split(',') as AnnEngine[], ['hnswlib', 'usearch', 'usearch-exact'] as AnnEngine[])
    .option('--m <list>', 'M values (real sets)', numberList, [8, 16, 32])
    .option('--synthetic-m <list>', 'M values (synthetic set)', numberList, [16])
    .option('--ef-construction <n>', 'efConstruction (usearch: expansion_add)', parsePositiveInteger, 200)
    .option('--ef <list>', 'ef values (usearch: expansion_search)', numberList, [10, 20, 40, 60, 100, 160, 320])
    .option('--k <n>', 'neighbours per query', parsePositiveInteger, 10)
    .option('--queries <n>', 'held-out queries per real set', parsePositiveInteger, 1000)
    .option('--synthetic-count <n>', 'synthetic vectors', parseNonNegativeInteger, 1_000_000)
    .option('--synthetic-queries <n>', 'synthetic queries', parsePositiveInteger, 200)
    .option('--workers <n>', 'embedding workers', parseNonNegativeInteger, 2)
    .option('--seed <n>', 'seed', parseNonNegativeInteger, 1)
    .option('--model <dir>', 'model for the real sets (default models/omniglot, else models/sample, else random conv4)')
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { datasets: AnnDatasetName[]; engines: AnnEngine[]; m: number[]; syntheticM: number[]; efConstruction: number; ef: number[]; k: number; queries: number; syntheticCount: number; syntheticQueries: number; workers: number; seed: number; model?: string; out: string }) => {
      const command = suiteCommand('ann');
      const save = async (r: AnnBenchResult): Promise<string> => {
        const md = annMarkdown(r, f.out);
        await writeResults(f.out, 'ann', r, md);
        return md;
      };
      const result = await runAnnBench({
        ...f, ms: f.m, syntheticMs: f.syntheticM, efs: f.ef, modelDir: f.model, plotDir: f.out, command,
        log: (l) => process.stderr.write(`${l}\n`),
        onProgress: async (partial) => {
          await save(partial);
        },
      });
      process.stdout.write(`${await save(result)}\n`);
    });
}
