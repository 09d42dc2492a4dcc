/**
 * The scheduled re-index as a job of its own (the AWS Lambda `scheduled` handler, an EventBridge
 * schedule): configured from the same environment as the serving instances (MODEL_DIR, INDEX_DIR,
 * GALLERY_DIR, STORE_DIR, VECTOR_STORE, …; any of the folders may be an s3:// URI), it embeds only
 * what changed since the current snapshot, publishes the new one and exits. It serves nothing:
 * serving instances pick the new snapshot up at their next poll of CURRENT.
 *
 * In object storage, two runs at once are safe: CURRENT moves with a conditional write, and the
 * run that loses builds again on the winner's snapshot (src/storage/snapshots.ts).
 */
import { availableParallelism } from 'node:os';
import { openEmbedder } from '../embedding/index.js';
import { openStore } from '../index/open-store.js';
import type { IndexRunSummary } from '../index/reindex.js';
import { localModelDir } from '../storage/mirror.js';
import { parseApiConfig, type EnvLike } from './config/index.js';
import { createLogger, type Logger } from './log.js';
import { storeLocation } from './runtime.js';

export interface ScheduledReindexOptions {
  /** Relative directories in the env are resolved against this (LAMBDA_TASK_ROOT on Lambda). Default: the working directory. */
  baseDir?: string;
  log?: Logger;
}

/**
 * Runs one re-index of the index `env` configures; resolves its summary, or null when another
 * run held the index (the on-disk lock, or the pgvector lease). Throws when the run failed; the
 * published snapshot then keeps serving.
 *
 * @example
 * // functions/lambda.ts
 * export const scheduled = () => runScheduledReindex(process.env, { baseDir: process.env.LAMBDA_TASK_ROOT });
 */
export async function runScheduledReindex(env: EnvLike, options: ScheduledReindexOptions = {}): Promise<IndexRunSummary | null> {
  const config = parseApiConfig(env, { baseDir: options.baseDir, cores: availableParallelism() });
  const log = options.log ?? createLogger(config.logLevel);
  const started = performance.now();
  const embedder = await openEmbedder(await localModelDir(config.modelDir), { workers: config.embedWorkers, batchSize: config.embedBatch });
  const { recipe } = embedder;
  const store = openStore({
    ...storeLocation(config),
    expect: { dim: recipe.dim, metric: recipe.metric, modelId: recipe.modelId, weightsHash: recipe.weightsHash },
    embedder,
    log,
    pollMs: 0,
    watch: false,
  });
  try {
    const summary = await store.reindex({ mode: 'reindex' });
    log.info({ version: summary?.version ?? null, seconds: Math.round(performance.now() - started) / 1000 }, summary ? 'scheduled re-index published' : 'scheduled re-index skipped: another run holds the index');
    return summary;
  } finally {
    await store.close();
    await embedder.close();
  }
}
