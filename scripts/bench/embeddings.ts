/**
 * Real datasets embedded by a model, for the index benchmarks: Fashion-MNIST (index-recall, ann) and
 * Omniglot (ann). Embeddings are cached between runs in a file per dataset, model and size.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { datasetsDir } from '../../src/data/datasets.js';
import { readGallery } from '../../src/data/gallery.js';
import { toModelInput } from '../../src/data/preprocess.js';
import { sha256Bytes } from '../../src/index/checksums.js';
import { openEmbedder, startRunner } from '../../src/embedding/index.js';
import { bytesToVectors, vectorsToBytes } from '../../src/index/vectors.js';
import { parseModelCard } from '../../src/model/card.js';
import { MODEL_CARD_FILE } from '../../src/model/io.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { fashionMnist } from './data.js';

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

/** How long embedding took (null when the vectors came from the cache). */
export type EmbedTiming = { seconds: number; imagesPerSecond: number; cached: boolean } | null;

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
): Promise<{ vectors: Float32Array; dim: number; modelId: string; embed: EmbedTiming }> {
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

/** All Omniglot images (background + evaluation) embedded by the model, cached by model id and image count. */
export async function embedOmniglot(modelDir: string, workers: number, log: (l: string) => void): Promise<{ vectors: Float32Array; dim: number; seconds: number | null }> {
  const card = parseModelCard(await readFile(join(modelDir, MODEL_CARD_FILE), 'utf8'));
  const root = join(datasetsDir(), 'omniglot');
  const files = [];
  for (const set of ['images_background', 'images_evaluation']) {
    for (const identity of (await readGallery(join(root, set))).identities) files.push(...identity.files);
  }
  const cacheFile = embeddingCacheFile(EMBEDDING_CACHE_DIR, 'omniglot', card.modelId, { n: files.length });
  const cached = await readCachedVectors(cacheFile, card.embeddingSize);
  if (cached) {
    log(`omniglot embeddings from cache ${cacheFile}`);
    return { vectors: cached, dim: card.embeddingSize, seconds: null };
  }
  log(`embedding ${files.length} Omniglot images with ${workers} worker(s)`);
  const embedder = await openEmbedder(modelDir, { workers, backend: 'wasm' });
  const started = performance.now();
  try {
    let last = 0;
    const { vectors, failed } = await embedder.embedAll(files, {
      onProgress: (done, total) => {
        if (done - last >= 5000 || done === total) log(`omniglot embedded ${(last = done)}/${total}`);
      },
    });
    if (failed.length) throw new Error(`${failed.length} Omniglot images failed to embed: ${failed[0].reason}`);
    const seconds = (performance.now() - started) / 1000;
    await writeCachedVectors(cacheFile, vectors);
    return { vectors, dim: card.embeddingSize, seconds };
  } finally {
    await embedder.close();
  }
}
