/**
 * Builds a serving runtime from an `env` (wrangler vars + secrets, or process.env): loads the
 * model (in worker threads or this thread), opens and watches the index, and creates the app.
 * Every entry point in functions/ and the Node adapter go through here, so they serve the same
 * app the same way.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import type { OpenAPIHono } from '@hono/zod-openapi';
import sharp from 'sharp';
import { initBackend } from '../model/backend.js';
import { parseModelCard, type ModelCard } from '../model/card.js';
import { loadModel, MODEL_CARD_FILE } from '../model/io.js';
import { startWorkerRunner } from '../index/embed-workers.js';
import { inProcessRunner, pipelineEmbedder, type ChunkRunner, type Embedder } from '../index/embedder.js';
import { isIndexError } from '../index/errors.js';
import { metaFromCard } from '../index/model-embedder.js';
import { runIndex, type IndexRunSummary } from '../index/reindex.js';
import { GalleryStore } from '../index/store.js';
import { createApp } from './app.js';
import { authEnabled, CONFIG_KEYS, ConfigError, parseApiConfig, type ApiConfig, type EnvLike } from './config/index.js';
import { batchingEmbedder, handoffRunner, type QueryEmbedder } from './embedding/index.js';
import { IndexHolder } from './holder/index.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics, type ApiMetrics } from './metrics/index.js';

/**
 * Set (by in-process code only — it cannot come from wrangler.toml, .dev.vars or the process
 * environment) on an env by the Node adapter after it checked that it binds a loopback address:
 * only then may the API serve without keys.
 */
export const LOOPBACK_ONLY = Symbol.for('twinsearch.loopback-only');

export interface RuntimeOptions {
  /** Relative directories in the env are resolved against this. Default: the working directory. */
  baseDir?: string;
  log?: Logger;
  /** Demo page folder (default src/api/demo). */
  demoDir?: string;
}

export interface Runtime {
  config: ApiConfig;
  card: ModelCard;
  app: OpenAPIHono;
  holder: IndexHolder;
  embedder: QueryEmbedder;
  store: GalleryStore;
  metrics: ApiMetrics;
  log: Logger;
  /** The nightly job: re-index (embedding only what changed), then swap the new snapshot in. Null if another run held the lock. */
  reindex(): Promise<IndexRunSummary | null>;
  /** Stops watching, embedding workers and the model. */
  close(): Promise<void>;
}

/** Whether `env` was marked by the Node adapter as served on loopback only. */
export function isLoopbackOnly(env: object): boolean {
  return (env as Record<symbol, unknown>)[LOOPBACK_ONLY] === true;
}

/** The embedding runner, and how to free the model it holds in this thread (if any) on close. */
interface StartedRunner {
  runner: ChunkRunner;
  dispose: () => void;
}

async function loadLocalRunner(config: ApiConfig, card: ModelCard, log: Logger): Promise<{ runner: ChunkRunner; tower: tf.LayersModel }> {
  await initBackend({ log: (m) => log.info(m) });
  const { tower, card: loaded } = await loadModel(config.modelDir);
  if (loaded.modelId !== card.modelId) {
    tower.dispose();
    throw new Error(`the model in ${config.modelDir} changed while loading`);
  }
  return { runner: inProcessRunner(tower, metaFromCard(card), config.embedBatch), tower };
}

async function startRunner(config: ApiConfig, card: ModelCard, log: Logger): Promise<StartedRunner> {
  if (config.embedWorkers === 0) {
    const { runner, tower } = await loadLocalRunner(config, card, log);
    return { runner, dispose: () => tower.dispose() };
  }
  const workers = startWorkerRunner({ modelDir: config.modelDir, batchSize: config.embedBatch }, config.embedWorkers);
  workers.catch(() => undefined); // handled by the hand-off
  // Each worker boots its own tfjs (~1 s); meanwhile this thread serves with its own copy of the
  // model, so the first search does not wait for the workers (cold start 2.2 -> ~1.8 s measured).
  let local: Awaited<ReturnType<typeof loadLocalRunner>>;
  try {
    local = await loadLocalRunner(config, card, log);
  } catch (error) {
    await workers.then((w) => w.close(), () => undefined);
    throw error;
  }
  let disposed = false;
  const disposeLocal = (): void => {
    if (!disposed) local.tower.dispose();
    disposed = true;
  };
  const runner = handoffRunner(local.runner, workers, {
    onHandoff: () => {
      disposeLocal();
      log.info({ workers: config.embedWorkers }, 'embedding in worker threads');
    },
    onSuccessorFailed: (error) => log.error({ err: error.message }, 'embedding workers failed to start: embedding stays in the serving thread'),
  });
  return { runner, dispose: disposeLocal };
}

/**
 * @example
 * const runtime = await createRuntime({ MODEL_DIR: 'models/sample', INDEX_DIR: 'index', GALLERY_DIR: 'data/sample-digits' });
 * const res = await runtime.app.request('/readyz');
 * await runtime.close();
 */
export async function createRuntime(env: EnvLike, options: RuntimeOptions = {}): Promise<Runtime> {
  const config = parseApiConfig(env, { baseDir: options.baseDir, cores: availableParallelism() });
  const log = options.log ?? createLogger(config.logLevel);
  // libvips's operation cache only pays when the same image is processed twice; request bodies are
  // all different, and with it on a 640x480 JPEG search cost 11% more CPU (3.19 vs 2.83 ms, measured).
  sharp.cache(false);
  if (!authEnabled(config) && !isLoopbackOnly(env)) {
    throw new ConfigError('no API keys configured (API_KEYS / ADMIN_KEYS secrets): refusing to serve. Only the Node adapter on a loopback address (npm start, npm run dev) may run without keys');
  }
  let cardText: string;
  try {
    cardText = await readFile(join(config.modelDir, MODEL_CARD_FILE), 'utf8');
  } catch (error) {
    throw new ConfigError(`no model in ${config.modelDir} (MODEL_DIR): ${(error as Error).message}`);
  }
  const card = parseModelCard(cardText);
  // The model loads (in worker threads, or here) while the index is opened and verified.
  const started = startRunner(config, card, log);
  started.catch(() => undefined); // awaited below
  let disposeModel: (() => void) | undefined;
  const runner: ChunkRunner = {
    slots: Math.max(1, config.embedWorkers),
    run: async (data, count) => (await started).runner.run(data, count),
    close: async () => (await started.catch(() => null))?.runner.close(),
  };
  const meta = metaFromCard(card);
  const imageSize = card.preprocess.width * card.preprocess.height * card.preprocess.channels;
  const embedder = batchingEmbedder(runner, { dim: card.embeddingSize, imageSize, maxBatch: config.embedBatch });
  // Paths-in embedder for catch-up and the re-index, sharing the same runner (small chunks, so queries interleave).
  const pathEmbedder: Embedder = pipelineEmbedder(meta, runner, { chunkSize: 64 });
  const store = new GalleryStore(config.galleryDir, { storeDir: config.storeDir });
  const holder = new IndexHolder({
    indexDir: config.indexDir,
    expect: { dim: card.embeddingSize, metric: card.metric, modelId: card.modelId, weightsHash: card.weights.sha256 },
    ef: config.indexEf,
    store,
    embedder: pathEmbedder,
    log,
    pollMs: config.reloadPollMs,
    watch: config.watchIndex,
  });
  try {
    const [outcome, loaded] = await Promise.all([holder.start(), started]);
    disposeModel = loaded.dispose;
    if (outcome === 'no-index') log.warn({ indexDir: config.indexDir }, 'no index yet (index/CURRENT missing): /readyz answers 503 until one is built (npm run index)');
  } catch (error) {
    await holder.close().catch(() => undefined);
    await embedder.close().catch(() => undefined);
    (await started.catch(() => null))?.dispose();
    throw error;
  }
  const metrics = createMetrics({ holder, embedder });
  const app = createApp({ config, card, embedder, holder, metrics, log, demoDir: options.demoDir });
  log.info({ model: card.modelId, index: holder.status().version, auth: authEnabled(config) ? 'keys' : 'open (loopback only)' }, 'runtime ready');

  let reindexing: Promise<IndexRunSummary | null> | null = null;
  return {
    config,
    card,
    app,
    holder,
    embedder,
    store,
    metrics,
    log,
    reindex() {
      // One run at a time in this process; the index lock covers other processes.
      reindexing ??= (async () => {
        try {
          const summary = await runIndex({ indexDir: config.indexDir, store, embedder: pathEmbedder, mode: 'reindex', onWarning: (m) => log.warn(m) });
          log.info({ version: summary.version, mode: summary.mode, added: summary.added, removed: summary.removed, changed: summary.changed, seconds: summary.seconds }, 're-index done');
          await holder.reload();
          return summary;
        } catch (error) {
          if (isIndexError(error, 'LOCKED')) {
            log.warn('re-index skipped: another run holds the index lock');
            return null;
          }
          log.error({ err: (error as Error).message }, 're-index failed; the current snapshot keeps serving');
          throw error;
        } finally {
          reindexing = null;
        }
      })();
      return reindexing;
    },
    async close() {
      await holder.close();
      await reindexing?.catch(() => undefined);
      await embedder.close();
      disposeModel?.();
    },
  };
}

/** What decides a runtime: the documented config keys as given, the base directory, the loopback mark. */
const SETTINGS = [...CONFIG_KEYS, 'base directory', 'loopback-only mark'] as const;

/** The values of SETTINGS for an env (a few µs: it runs on every request). */
function settingsOf(env: EnvLike, options: RuntimeOptions): string[] {
  const values = CONFIG_KEYS.map((key) => {
    const value = env[key];
    return value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  });
  values.push(resolve(options.baseDir ?? '.'), String(isLoopbackOnly(env)));
  return values;
}

let shared: { settings: string[]; runtime: Promise<Runtime> } | null = null;

/**
 * The process-wide runtime for serverless entry points: built on the first request from that
 * request's env, reused afterwards (a failed build is retried on the next request).
 *
 * One process serves one configuration, as a deployment does. The env is compared on every call
 * by its values (the documented keys, the base directory, the loopback mark), not by identity:
 * a fresh env object per request, or process.env next to a bindings object with the same values,
 * gets the same runtime. An env whose values differ — process.env changed after the first request,
 * or a second deployment's bindings — is refused with a ConfigError naming the keys that differ
 * (never their values): silently serving the first configuration would hide the change, and
 * building a second runtime would load a second model and index into the process. To switch,
 * `closeSharedRuntime()` first; to serve two configurations at once, `createRuntime()` each.
 *
 * @example
 * export default { fetch: async (request, env) => (await getRuntime(env)).app.fetch(request, env) };
 */
export function getRuntime(env: EnvLike, options: RuntimeOptions = {}): Promise<Runtime> {
  const settings = settingsOf(env, options);
  if (shared) {
    const current = shared.settings;
    const differ = SETTINGS.filter((_, i) => settings[i] !== current[i]);
    if (differ.length) {
      return Promise.reject(new ConfigError(`this process already serves another configuration (${differ.join(', ')} differ): one process serves one configuration; call closeSharedRuntime() before switching, or createRuntime() for a second one`));
    }
    return shared.runtime;
  }
  const runtime = createRuntime(env, options);
  const entry = { settings, runtime };
  shared = entry;
  runtime.catch(() => {
    if (shared === entry) shared = null;
  });
  return runtime;
}

/** Closes and forgets the shared runtime (graceful shutdown, tests). */
export async function closeSharedRuntime(): Promise<void> {
  const current = shared;
  shared = null;
  if (current) await (await current.runtime.catch(() => null))?.close();
}
