/**
 * A runner runs the tower: preprocessed images in, vectors out. It is the one place that knows
 * where the forward pass happens — in this thread (`inThreadRunner`), in worker threads
 * (workers.ts), or first here and then in workers (handoff.ts). Everything above it (the
 * batching queue, the embedder) is the same whichever runner sits below.
 */
import type * as tf from '@tensorflow/tfjs';
import { embedImageSetAsync } from '../model/embed.js';
import { imageShape, type EmbeddingRecipe } from './recipe.js';

export interface Runner {
  /** Passes that may run at once (1 in this thread, one per worker). */
  readonly slots: number;
  /**
   * Embeds `count` preprocessed NHWC images stored back to back in `data` and resolves
   * `count * dim` floats. The runner may take ownership of `data` (workers transfer it).
   */
  run(data: Float32Array, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/**
 * Runs a tower in this thread, `batchSize` images per forward pass, yielding to the event loop
 * between passes. On wasm this is one core's worth of speed; see workers.ts for more.
 * `close` disposes the tower when `owned`.
 *
 * @example
 * const runner = inThreadRunner(tower, recipe, { batchSize: 64, owned: true });
 * const vectors = await runner.run(pixels, 8); // 8 * recipe.dim floats
 */
export function inThreadRunner(tower: tf.LayersModel, recipe: EmbeddingRecipe, options: { batchSize?: number; owned?: boolean } = {}): Runner {
  const shape = imageShape(recipe.preprocess);
  const batchSize = options.batchSize ?? 64;
  let closed = false;
  return {
    slots: 1,
    run: (data, count) => {
      if (closed) return Promise.reject(new Error('the runner is closed'));
      return embedImageSetAsync(tower, data, count, shape, { batchSize, ...recipe.settings });
    },
    async close() {
      if (!closed && options.owned) tower.dispose();
      closed = true;
    },
  };
}
