/**
 * Embedding worker thread (started by workers.ts): its own tfjs backend and tower; per
 * request it embeds a chunk of preprocessed images and sends the vectors back (transferred).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend.js';
import { embedImageSetAsync } from '../model/embed.js';
import { loadModel } from '../model/io.js';
import { imageShape, recipeFromCard } from './recipe.js';
import { workerDataOf } from '../util/worker.js';
import type { EmbedWorkerInit, EmbedWorkerReply, EmbedWorkerRequest } from './workers.js';

const init = workerDataOf<EmbedWorkerInit>(workerData);
const port = parentPort!;

const message = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));

async function main(): Promise<void> {
  await initBackend({ preference: init.backend, log: () => {} });
  const { tower, card } = await loadModel(init.modelDir);
  if (init.modelId !== undefined && card.modelId !== init.modelId) throw new Error(`${init.modelDir} now holds model ${card.modelId}, not ${init.modelId}`);
  const recipe = recipeFromCard(card);
  const shape = imageShape(recipe.preprocess);
  // Requests are handled one at a time: each awaits the previous (tfjs has one engine per thread).
  let queue = Promise.resolve();
  port.on('message', (request: EmbedWorkerRequest) => {
    queue = queue.then(async () => {
      try {
        const vectors = await embedImageSetAsync(tower, request.data, request.count, shape, { batchSize: init.batchSize, ...recipe.settings });
        port.postMessage({ ok: true, id: request.id, vectors } satisfies EmbedWorkerReply, [vectors.buffer as ArrayBuffer]);
      } catch (error) {
        port.postMessage({ ok: false, id: request.id, error: message(error) } satisfies EmbedWorkerReply);
      }
    });
  });
  port.postMessage({ ok: true, ready: true, dim: card.embeddingSize, backend: tf.getBackend() } satisfies EmbedWorkerReply);
}

main().catch((error: unknown) => {
  port.postMessage({ ok: false, error: message(error) } satisfies EmbedWorkerReply);
});
