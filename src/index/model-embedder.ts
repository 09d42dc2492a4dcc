/**
 * Opens a saved model directory as an `Embedder`: in this thread (one worker's worth of
 * speed on wasm) or in worker threads, one tfjs per core.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { initBackend, type BackendPreference } from '../model/backend.js';
import { parseModelCard, type ModelCard } from '../model/card.js';
import { loadModel, MODEL_CARD_FILE } from '../model/io.js';
import { startWorkerRunner } from './embed-workers.js';
import { inProcessRunner, pipelineEmbedder, type Embedder, type ModelMeta } from './embedder.js';

export interface ModelEmbedderOptions {
  /** Worker threads; 0 = embed in this thread. Default 0. */
  workers?: number;
  /** Images per forward pass. Default 64. */
  batchSize?: number;
  /** Images per chunk handed to a worker. Default 256. */
  chunkSize?: number;
  backend?: BackendPreference;
}

/** The parts of a model card the index records and checks. */
export function metaFromCard(card: ModelCard): ModelMeta {
  return {
    modelId: card.modelId,
    weightsHash: card.weights.sha256,
    dim: card.embeddingSize,
    metric: card.metric,
    l2Normalize: card.tower.l2Normalize,
    flipAverage: card.tower.flipAverage ?? false,
    ...(card.tower.center ? { center: card.tower.center } : {}),
    preprocess: card.preprocess,
  };
}

/**
 * @example
 * const embedder = await openModelEmbedder('models/omniglot', { workers: 2 });
 * try { const { vectors } = await embedder.embed(files); } finally { await embedder.close(); }
 */
export async function openModelEmbedder(modelDir: string, options: ModelEmbedderOptions = {}): Promise<Embedder> {
  const batchSize = options.batchSize ?? 64;
  const workers = options.workers ?? 0;
  if (workers > 0) {
    // Workers load and verify the weights themselves; here only the card is needed.
    const card = parseModelCard(await readFile(join(modelDir, MODEL_CARD_FILE), 'utf8'));
    const meta = metaFromCard(card);
    const runner = await startWorkerRunner(
      { modelDir, backend: options.backend, batchSize },
      workers,
    );
    return pipelineEmbedder(meta, runner, { chunkSize: options.chunkSize });
  }
  await initBackend({ preference: options.backend, log: () => {} });
  const { tower, card } = await loadModel(modelDir);
  const runner = inProcessRunner(tower, metaFromCard(card), batchSize);
  return pipelineEmbedder(metaFromCard(card), {
    ...runner,
    async close() {
      tower.dispose();
    },
  }, { chunkSize: options.chunkSize });
}
