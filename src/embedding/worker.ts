/**
 * Embedding worker thread (started by workers.ts): its own tfjs backend and model; per request it
 * embeds a chunk of preprocessed images (a trained tower) or describes every face of a few decoded
 * images (a face model), and sends the result back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend.js';
import { isFaceCard, type ModelCard } from '../model/card.js';
import { embedImageSetAsync } from '../model/embed.js';
import { loadModel, readModelCard } from '../model/io.js';
import { imageShape, recipeFromCard } from './recipe.js';
import { workerDataOf } from '../util/worker.js';
import type { EmbedWorkerInit, EmbedWorkerReply, EmbedWorkerRequest } from './workers.js';

const init = workerDataOf<EmbedWorkerInit>(workerData);
const port = parentPort!;

const message = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));

type Handler = (request: EmbedWorkerRequest) => Promise<{ reply: EmbedWorkerReply; transfer: ArrayBuffer[] }>;

async function towerHandler(): Promise<{ card: ModelCard; handle: Handler }> {
  const { tower, card } = await loadModel(init.modelDir);
  const recipe = recipeFromCard(card);
  const shape = imageShape(recipe.preprocess);
  return {
    card,
    async handle(request) {
      if (request.kind !== 'embed') throw new Error(`this worker embeds images, not ${request.kind}`);
      const vectors = await embedImageSetAsync(tower, request.data, request.count, shape, { batchSize: init.batchSize, ...recipe.settings });
      return { reply: { ok: true, id: request.id, vectors }, transfer: [vectors.buffer as ArrayBuffer] };
    },
  };
}

async function faceHandler(card: ModelCard): Promise<Handler> {
  // Imported here: workers of other models never load the face modules.
  const { loadFacePipeline } = await import('../face/model.js');
  const pipeline = await loadFacePipeline(card, init.modelDir);
  return async (request) => {
    if (request.kind !== 'faces') throw new Error(`this worker describes faces, not ${request.kind}`);
    const faces = await pipeline.describe(request.images.map((im) => ({ pixels: im.pixels, width: im.width, height: im.height })), { chips: request.chips });
    return { reply: { ok: true, id: request.id, faces }, transfer: [] };
  };
}

async function main(): Promise<void> {
  await initBackend({ preference: init.backend, log: () => {} });
  const peek = await readModelCard(init.modelDir);
  const faces = isFaceCard(peek);
  let card = peek;
  let handle: Handler;
  if (faces) {
    handle = await faceHandler(peek);
  } else {
    ({ card, handle } = await towerHandler());
  }
  if (init.modelId !== undefined && card.modelId !== init.modelId) throw new Error(`${init.modelDir} now holds model ${card.modelId}, not ${init.modelId}`);
  // Requests are handled one at a time: each awaits the previous (tfjs has one engine per thread).
  let queue = Promise.resolve();
  port.on('message', (request: EmbedWorkerRequest) => {
    queue = queue.then(async () => {
      try {
        const { reply, transfer } = await handle(request);
        port.postMessage(reply, transfer);
      } catch (error) {
        port.postMessage({ ok: false, id: request.id, error: message(error) } satisfies EmbedWorkerReply);
      }
    });
  });
  port.postMessage({ ok: true, ready: true, dim: card.embeddingSize, backend: tf.getBackend(), faces } satisfies EmbedWorkerReply);
}

main().catch((error: unknown) => {
  port.postMessage({ ok: false, error: message(error) } satisfies EmbedWorkerReply);
});
