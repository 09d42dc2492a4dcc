/**
 * Opening a saved model directory as an embedder: which runner, where the weights load, and how
 * a server answers while its worker threads boot.
 */
import type { BaseLogger } from 'pino';
import { initBackend, type BackendPreference } from '../model/backend.js';
import { isFaceCard, type ModelCard } from '../model/card.js';
import { loadModel, readModelCard } from '../model/io.js';
import { createEmbedder, type Embedder, type EmbedderOptions } from './embedder.js';
import { createFaceEmbedder, inThreadFaceRunner, type FaceRunner } from './faces.js';
import { handoffRunner } from './handoff.js';
import { recipeFromCard } from './recipe.js';
import { inThreadRunner, type Runner } from './runner.js';
import { startFaceWorkerRunner, startWorkerRunner } from './workers.js';

export interface RunnerOptions {
  /** Worker threads, each with its own tfjs and copy of the tower; 0 = this thread. Default 0. */
  workers?: number;
  /** Images per forward pass. Default 64. */
  batchSize?: number;
  backend?: BackendPreference;
  /**
   * With workers: answer from this thread until they are ready (they take a second or more to
   * boot their own tfjs; cold start 2.2 → 1.8 s measured), at the cost of one more copy of the
   * model until then. Default false.
   */
  warmStart?: boolean;
  log?: Pick<BaseLogger, 'info' | 'error'>;
}

/** Loads the model in this thread, refusing a directory that changed since `card` was read. */
async function loadHere(modelDir: string, card: ModelCard, options: RunnerOptions): Promise<Runner> {
  const log = options.log;
  await initBackend({ preference: options.backend, log: log ? (m) => log.info(m) : () => {} });
  const { tower, card: loaded } = await loadModel(modelDir);
  if (loaded.modelId !== card.modelId) {
    tower.dispose();
    throw new Error(`the model in ${modelDir} changed while loading (${card.modelId} → ${loaded.modelId})`);
  }
  return inThreadRunner(tower, recipeFromCard(card), { batchSize: options.batchSize, owned: true });
}

/**
 * Starts the runner for `card`'s model in `modelDir`: this thread, worker threads, or (with
 * `warmStart`) this thread handing off to workers once they are up.
 *
 * @example
 * const runner = await startRunner('models/omniglot', card, { workers: 2, warmStart: true, log });
 */
export async function startRunner(modelDir: string, card: ModelCard, options: RunnerOptions = {}): Promise<Runner> {
  const workers = options.workers ?? 0;
  if (workers === 0) return loadHere(modelDir, card, options);
  const pool = startWorkerRunner({ modelDir, modelId: card.modelId, backend: options.backend, batchSize: options.batchSize ?? 64 }, workers);
  if (!options.warmStart) return pool;
  pool.catch(() => undefined); // reported by the hand-off
  let standIn: Runner;
  try {
    standIn = await loadHere(modelDir, card, options);
  } catch (error) {
    await pool.then((p) => p.close(), () => undefined);
    throw error;
  }
  return handoffRunner(standIn, pool, {
    onHandoff: () => {
      void standIn.close(); // frees this thread's copy of the model
      options.log?.info({ workers }, 'embedding in worker threads');
    },
    onSuccessorFailed: (error) => options.log?.error({ err: error.message }, 'embedding workers failed to start: embedding stays in the serving thread'),
  });
}

/**
 * Starts the face runner for a face card: this thread, or worker threads (each loads the stage and
 * the tower; no warm start: a face model loads in about as long in a worker as here).
 *
 * @example
 * const runner = await startFaceRunner('models/faces', card, { workers: 2 });
 */
export async function startFaceRunner(modelDir: string, card: ModelCard, options: RunnerOptions = {}): Promise<FaceRunner> {
  const workers = options.workers ?? 0;
  if (workers > 0) return startFaceWorkerRunner({ modelDir, modelId: card.modelId, backend: options.backend, batchSize: options.batchSize ?? 8 }, workers);
  const log = options.log;
  await initBackend({ preference: options.backend, log: log ? (m) => log.info(m) : () => {} });
  // Imported here: models without a face stage never load the face modules.
  const { loadFacePipeline } = await import('../face/model.js');
  return inThreadFaceRunner(await loadFacePipeline(card, modelDir), { owned: true });
}

/**
 * Opens a model directory as an embedder (a face embedder for a face model).
 *
 * @example
 * const embedder = await openEmbedder('models/omniglot', { workers: 2 });
 * try { const { vectors, failed } = await embedder.embedAll(files); } finally { await embedder.close(); }
 */
export async function openEmbedder(modelDir: string, options: RunnerOptions & EmbedderOptions = {}): Promise<Embedder> {
  const card = await readModelCard(modelDir);
  if (isFaceCard(card)) return createFaceEmbedder(recipeFromCard(card), await startFaceRunner(modelDir, card, options), { maxBatch: options.maxBatch });
  const runner = await startRunner(modelDir, card, options);
  return createEmbedder(recipeFromCard(card), runner, options);
}
