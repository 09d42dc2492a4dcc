/** Shared bits of the index benchmark scripts: result files, machine description, datasets and the embedding cache. */
import { mkdir, readFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { readIdxDataset } from '../src/data/idx.js';
import { sha256Bytes } from '../src/index/checksums.js';
import { bytesToVectors, vectorsToBytes } from '../src/index/vectors.js';
import { DEFAULT_PREPROCESS, DEFAULT_TOWER } from '../src/model/config.js';
import { writeFileAtomic } from '../src/util/atomic.js';

/** What the numbers were measured on (the machine is shared: the load average matters). */
export function machine(): { cpu: string; cores: number; memGiB: number; node: string; loadavg: number[] } {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * Writes `<name>.json` (with the machine and time) and `<name>.md` into `dir`.
 *
 * @example
 * await writeResults('bench/results', 'index-recall', result, table);
 */
export async function writeResults(dir: string, name: string, result: unknown, markdownText: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${name}.json`);
  const md = join(dir, `${name}.md`);
  await writeFileAtomic(json, `${JSON.stringify({ name, measuredAt: new Date().toISOString(), machine: machine(), result }, null, 2)}\n`);
  await writeFileAtomic(md, markdownText);
  return [json, md];
}

/** Peak-ish memory of this process in MiB. */
export function memoryMiB(): { rss: number; heapUsed: number; external: number } {
  const m = process.memoryUsage();
  const mib = (x: number): number => Math.round(x / 2 ** 20);
  return { rss: mib(m.rss), heapUsed: mib(m.heapUsed), external: mib(m.external) };
}

/** Markdown table from rows of equal keys. */
export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]);
  return [`| ${keys.join(' | ')} |`, `|${keys.map(() => '---:').join('|')}|`, ...rows.map((r) => `| ${keys.map((k) => String(r[k])).join(' | ')} |`)].join('\n');
}

/** How the HTTP benchmark sends its query images (scripts/api-bench.ts): at the model's input size, or photo-sized. */
export type QueryKind = 'png28' | 'photo';
export const QUERY_LABEL: Record<QueryKind, string> = { png28: '28x28 PNG', photo: '640x480 JPEG' };

/** The embedding setting of a server run in reports: EMBED_WORKERS 0 embeds in the serving thread. */
export function embeddingLabel(workers: number): string {
  return workers === 0 ? 'serving thread' : `${workers} worker thread${workers > 1 ? 's' : ''}`;
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** A random-weight conv4 tower saved as a model directory (what the benchmark uses without --model). */
export async function randomModel(dir: string): Promise<string> {
  const { saveModel } = await import('../src/model/io.js');
  const { buildTower } = await import('../src/model/tower.js');
  const { initBackend } = await import('../src/model/backend.js');
  await initBackend({ preference: 'wasm', log: () => {} });
  const tower = buildTower(DEFAULT_TOWER, DEFAULT_PREPROCESS, 7);
  const point = { threshold: 1, far: 0.5, tar: 0.5 };
  await saveModel(dir, tower, {
    name: 'random-conv4',
    preprocess: DEFAULT_PREPROCESS,
    tower: DEFAULT_TOWER,
    metric: 'l2',
    loss: { name: 'npair', scale: 25 },
    thresholds: { eer: point, atFar: [], default: 1 },
    validation: { auc: 0.5, eer: 0.5, samePairs: 0, differentPairs: 0 },
    training: { backend: 'none', seed: 7, epochs: 0, steps: 0, batchSize: 1, learningRate: 0, wallSeconds: 0, trainIdentities: 0, valIdentities: 0, images: 0, dataDigest: 'untrained' },
  });
  tower.dispose();
  return dir;
}

/** Fashion-MNIST train + test images as raw bytes (count x 784). */
export async function fashionMnist(limit: number): Promise<{ images: Uint8Array; count: number }> {
  const train = await readIdxDataset(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'), join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz'));
  const test = await readIdxDataset(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'), join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'));
  const count = Math.min(limit, train.count + test.count);
  const images = new Uint8Array(count * 784);
  images.set(train.images.subarray(0, Math.min(count, train.count) * 784));
  if (count > train.count) images.set(test.images.subarray(0, (count - train.count) * 784), train.count * 784);
  return { images, count };
}

/** Where benchmarks keep a dataset's embeddings between runs, unless told otherwise. */
export const EMBEDDING_CACHE_DIR = join(tmpdir(), 'twinsearch-bench-cache');

/**
 * The cache file of `dataset` embedded by one model. The model id is enough to tell models apart:
 * it hashes the weights with the whole embedding recipe (preprocessing, tower, metric).
 *
 * @example
 * embeddingCacheFile(EMBEDDING_CACHE_DIR, 'fashion-mnist', card.modelId, { limit: 70_000 });
 * // '/tmp/twinsearch-bench-cache/fashion-mnist-3f2a9c0d1e4b5a6f.f32'
 */
export function embeddingCacheFile(cacheDir: string, dataset: string, modelId: string, extra: Record<string, number>): string {
  return join(cacheDir, `${dataset}-${sha256Bytes(Buffer.from(JSON.stringify({ id: modelId, ...extra }))).slice(0, 16)}.f32`);
}

/**
 * Cached vectors of `dim` floats each, or null when there is no cache or it holds no whole vectors
 * (the caller then embeds again). Files are written whole by `writeCachedVectors`, so a bad length
 * means a file that is not ours.
 */
export async function readCachedVectors(file: string, dim: number): Promise<Float32Array | null> {
  const bytes = await readFile(file).catch(() => null);
  if (!bytes || bytes.byteLength === 0 || bytes.byteLength % (dim * 4) !== 0) return null;
  return bytesToVectors(bytes);
}

/** Writes vectors for `readCachedVectors`, atomically (a run killed mid-write leaves no cut-short cache). */
export async function writeCachedVectors(file: string, vectors: Float32Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFileAtomic(file, vectorsToBytes(vectors));
}
