/**
 * The embedder: the one seam through which an image becomes a vector, for the index job, the
 * index's catch-up and every API request alike. It applies the model card's recipe
 * (recipe.ts): `prepare` decodes and preprocesses one image (sharp, on libuv's threads), and
 * `embed` runs prepared images through the batching queue (queue.ts) and a runner (runner.ts:
 * this thread or worker threads). `embedAll` does both for many images, decoding the next chunk
 * while earlier ones are embedded; an unreadable image does not stop it.
 */
import { preprocessImage, type PreprocessOptions } from '../data/preprocess.js';
import type { FaceSearch } from './faces.js';
import { batchQueue, type QueueStats } from './queue.js';
import { imageFloats, type EmbeddingRecipe } from './recipe.js';
import type { Runner } from './runner.js';

/** A file path or the image bytes. */
export type EmbedInput = string | Uint8Array;

export interface EmbedAllResult {
  /** `inputs.length * dim` floats, row i for input i (zeros for failed inputs). */
  vectors: Float32Array;
  /** Inputs that could not be decoded (face models: or hold no face), in input order. */
  failed: { index: number; reason: string }[];
  /** Face models only: inputs without a face (also in `failed`), and inputs with several (the largest was embedded). */
  faces?: { none: number[]; several: { index: number; faces: number }[] };
}

export interface Embedder {
  readonly recipe: EmbeddingRecipe;
  /**
   * Decodes and preprocesses one image by the recipe. Throws `ImageDecodeError` (stable codes).
   *
   * @example
   * const pixels = await embedder.prepare(bytes, { limitInputPixels: 16_777_216 });
   */
  prepare(input: EmbedInput, options?: PreprocessOptions): Promise<Float32Array>;
  /**
   * Embeds prepared images: one vector per input, in order. Concurrent calls share passes.
   *
   * @example
   * const [vector] = await embedder.embed([pixels]);
   */
  embed(inputs: readonly Float32Array[]): Promise<Float32Array[]>;
  /**
   * Decodes and embeds many images, pipelined.
   *
   * @example
   * const { vectors, failed } = await embedder.embedAll(['/g/alice/1.png', bytes], { onProgress: (done, total) => … });
   */
  embedAll(inputs: readonly EmbedInput[], options?: { onProgress?: (done: number, total: number) => void }): Promise<EmbedAllResult>;
  /** Face models only: every face of an image, with its box (see faces.ts). `prepare` and `embed` then throw. */
  readonly faces?: FaceSearch;
  /** Passes and images through the queue so far (metrics, tests). */
  stats(): QueueStats;
  /** Rejects queued work and frees the runner (workers, tensors). */
  close(): Promise<void>;
}

export interface EmbedderOptions {
  /** Most images one pass merges from concurrent requests. Default 32. */
  maxBatch?: number;
  /** Images per chunk of `embedAll` (one queue job each). Default 256; smaller lets requests interleave. */
  chunkSize?: number;
  /** Images `embedAll` decodes at once. Default 8 (sharp's per-image overhead dominates small images; 8 measured ~1.5x faster than 4). */
  decodeConcurrency?: number;
}

/** Decodes `inputs[start, end)` into one block; failures are recorded and their rows left zero. */
async function prepareChunk(
  prepare: (input: EmbedInput) => Promise<Float32Array>,
  inputs: readonly EmbedInput[],
  start: number,
  end: number,
  floats: number,
  concurrency: number,
  failed: EmbedAllResult['failed'],
): Promise<Float32Array> {
  const data = new Float32Array((end - start) * floats);
  let next = start;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const i = next++;
      try {
        data.set(await prepare(inputs[i]), (i - start) * floats);
      } catch (error) {
        failed.push({ index: i, reason: error instanceof Error ? error.message : String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, end - start) }, worker));
  return data;
}

/**
 * @example
 * const embedder = createEmbedder(recipeFromCard(card), inThreadRunner(tower, recipe, { owned: true }));
 * const [vector] = await embedder.embed([await embedder.prepare(bytes)]);
 */
export function createEmbedder(recipe: EmbeddingRecipe, runner: Runner, options: EmbedderOptions = {}): Embedder {
  const floats = imageFloats(recipe.preprocess);
  const { dim } = recipe;
  const chunkSize = options.chunkSize ?? 256;
  const decodeConcurrency = options.decodeConcurrency ?? 8;
  const queue = batchQueue(runner, { dim, imageFloats: floats, maxBatch: options.maxBatch });
  const prepare = (input: EmbedInput, preprocessOptions?: PreprocessOptions): Promise<Float32Array> => preprocessImage(input, recipe.preprocess, preprocessOptions);

  return {
    recipe,
    prepare,
    async embed(inputs) {
      if (inputs.length === 0) return [];
      const data = new Float32Array(inputs.length * floats);
      for (const [i, input] of inputs.entries()) {
        if (input.length !== floats) throw new RangeError(`an input has ${input.length} floats, expected ${floats}`);
        data.set(input, i * floats);
      }
      const out = await queue.submit(data, inputs.length);
      return inputs.map((_, i) => out.slice(i * dim, (i + 1) * dim));
    },
    async embedAll(inputs, embedOptions = {}) {
      const total = inputs.length;
      const vectors = new Float32Array(total * dim);
      const failed: EmbedAllResult['failed'] = [];
      let done = 0;
      const inFlight = new Set<Promise<void>>();
      try {
        for (let start = 0; start < total; start += chunkSize) {
          const end = Math.min(total, start + chunkSize);
          const data = await prepareChunk((input) => prepare(input), inputs, start, end, floats, decodeConcurrency, failed);
          // Keep one chunk per runner slot in flight, and decode the next meanwhile.
          while (inFlight.size >= Math.max(1, runner.slots)) await Promise.race(inFlight);
          const job = queue.submit(data, end - start).then((out) => {
            vectors.set(out, start * dim);
            done += end - start;
            embedOptions.onProgress?.(done, total);
          });
          const tracked: Promise<void> = job.finally(() => inFlight.delete(tracked));
          inFlight.add(tracked);
        }
        await Promise.all(inFlight);
      } catch (error) {
        // Let the other chunks settle so none rejects unobserved, then report the first failure.
        await Promise.allSettled(inFlight);
        throw error;
      }
      // Failed rows were decoded as zeros and embedded: blank them so nobody mistakes them for data.
      for (const f of failed) vectors.fill(0, f.index * dim, (f.index + 1) * dim);
      failed.sort((a, b) => a.index - b.index);
      return { vectors, failed };
    },
    stats: () => queue.stats(),
    close: () => queue.close(),
  };
}
