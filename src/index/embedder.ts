/**
 * Embedding for the indexer, behind one small interface so the indexer does not care whether
 * a tower runs in this thread, in worker threads, or is a test double built in memory.
 *
 * Pipeline: inputs are decoded in chunks (sharp, on its own thread pool) while earlier chunks
 * are embedded, so decoding overlaps the forward passes. An unreadable image does not stop the
 * run: its index is reported in `failed` and its row is left zero.
 */
import type * as tf from '@tensorflow/tfjs';
import type { Metric, PreprocessConfig } from '../model/config.js';
import { embedImageSetAsync } from '../model/embed.js';
import { preprocessImage } from '../data/preprocess.js';
import { embedOptionsFor, storesNormalized } from './distance.js';

/** A file path or the image bytes. */
export type EmbedInput = string | Uint8Array;

export interface EmbedResult {
  /** `inputs.length * dim` floats, row i for input i (zeros for failed inputs). */
  vectors: Float32Array;
  failed: { index: number; reason: string }[];
}

export interface EmbedOptions {
  /** Called as images finish, with how many are done of how many. */
  onProgress?: (done: number, total: number) => void;
}

export interface Embedder {
  readonly modelId: string;
  readonly weightsHash: string;
  readonly dim: number;
  readonly metric: Metric;
  /** Vectors come out L2-normalised. */
  readonly normalized: boolean;
  /**
   * @example
   * const { vectors, failed } = await embedder.embed(['/g/alice/1.png', bytes]);
   */
  embed(inputs: readonly EmbedInput[], options?: EmbedOptions): Promise<EmbedResult>;
  /** Frees workers / tensors. */
  close(): Promise<void>;
}

/** What the model card says about a model, as far as the index needs it. */
export interface ModelMeta {
  modelId: string;
  weightsHash: string;
  dim: number;
  metric: Metric;
  l2Normalize: boolean;
  /** The card's `tower.flipAverage`: embed each image with its mirror. */
  flipAverage?: boolean;
  /** The card's `tower.center`: subtracted from each unit embedding. */
  center?: number[];
  preprocess: PreprocessConfig;
}

/** Embeds already-preprocessed images: `count` NHWC images in `data` → `count * dim` floats. */
export interface ChunkRunner {
  /** Chunks that may run at once (the number of workers). */
  readonly slots: number;
  run(data: Float32Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export interface PipelineOptions {
  /** Images per chunk handed to the runner. Default 256. */
  chunkSize?: number;
  /** Images decoded at once. Default 8 (sharp per-image overhead dominates small images; 8 measured ~1.5x faster than 4). */
  decodeConcurrency?: number;
}

async function decodeChunk(
  inputs: readonly EmbedInput[],
  start: number,
  end: number,
  pre: PreprocessConfig,
  concurrency: number,
  failed: EmbedResult['failed'],
): Promise<Float32Array> {
  const size = pre.height * pre.width * pre.channels;
  const data = new Float32Array((end - start) * size);
  let next = start;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const i = next++;
      try {
        data.set(await preprocessImage(inputs[i], pre), (i - start) * size);
      } catch (error) {
        failed.push({ index: i, reason: error instanceof Error ? error.message : String(error) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, end - start) }, worker));
  return data;
}

/**
 * An `Embedder` that decodes with the model's preprocessing and embeds through `runner`,
 * keeping `runner.slots` chunks in flight plus one being decoded.
 *
 * @example
 * const embedder = pipelineEmbedder(meta, inProcessRunner(tower, meta));
 */
export function pipelineEmbedder(meta: ModelMeta, runner: ChunkRunner, options: PipelineOptions = {}): Embedder {
  const chunkSize = options.chunkSize ?? 256;
  const decodeConcurrency = options.decodeConcurrency ?? 8;
  const normalized = storesNormalized(meta.metric, meta.l2Normalize);
  return {
    modelId: meta.modelId,
    weightsHash: meta.weightsHash,
    dim: meta.dim,
    metric: meta.metric,
    normalized,
    async embed(inputs, embedOptions = {}) {
      const total = inputs.length;
      const vectors = new Float32Array(total * meta.dim);
      const failed: EmbedResult['failed'] = [];
      let done = 0;
      const inFlight = new Set<Promise<void>>();
      try {
        for (let start = 0; start < total; start += chunkSize) {
          const end = Math.min(total, start + chunkSize);
          const data = await decodeChunk(inputs, start, end, meta.preprocess, decodeConcurrency, failed);
          while (inFlight.size >= runner.slots) await Promise.race(inFlight);
          const job = runner.run(data, end - start).then((out) => {
            if (out.length !== (end - start) * meta.dim) throw new Error(`embedder returned ${out.length} floats for ${end - start} images of dimension ${meta.dim}`);
            vectors.set(out, start * meta.dim);
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
      for (const f of failed) vectors.fill(0, f.index * meta.dim, (f.index + 1) * meta.dim);
      failed.sort((a, b) => a.index - b.index);
      return { vectors, failed };
    },
    close: () => runner.close(),
  };
}

/**
 * Runs a tower in this thread (the wasm backend uses one core; see embed-workers.ts for more).
 *
 * @example
 * const runner = inProcessRunner(tower, meta, 64);
 */
export function inProcessRunner(tower: tf.LayersModel, meta: ModelMeta, batchSize = 64): ChunkRunner {
  const shape: [number, number, number] = [meta.preprocess.height, meta.preprocess.width, meta.preprocess.channels];
  const options = embedOptionsFor(meta);
  return {
    slots: 1,
    run: (data, count) => embedImageSetAsync(tower, data, count, shape, { batchSize, ...options }),
    async close() {
      /* the tower belongs to the caller */
    },
  };
}
