/**
 * Builds a serving runtime from an `env` (wrangler vars + secrets, or process.env): starts the
 * embedder (worker threads, or this thread), opens and follows the vector store, and creates the
 * app. Every entry point in functions/ and the Node adapter go through here, so they serve the
 * same app the same way.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import type { OpenAPIHono } from '@hono/zod-openapi';
import sharp from 'sharp';
import { createEmbedder, createFaceEmbedder, pendingFaceRunner, pendingRunner, recipeFromCard, startFaceRunner, startRunner, type Embedder } from '../embedding/index.js';
import { isFaceCard, weightsHashOf, type ModelCard } from '../model/card.js';
import { readModelCard } from '../model/io.js';
import { localModelDir } from '../storage/mirror.js';
import { openStore, type OpenStoreOptions } from '../index/open-store.js';
import type { IndexRunSummary } from '../index/reindex.js';
import { GalleryStore } from '../index/store.js';
import type { VectorStore } from '../index/vector-store.js';
import { createApp } from './app.js';
import { authEnabled, CONFIG_KEYS, ConfigError, parseApiConfig, type ApiConfig, type EnvLike } from './config/index.js';
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
  store: VectorStore;
  embedder: Embedder;
  metrics: ApiMetrics;
  log: Logger;
  /** The nightly job: re-index (embedding only what changed), then serve the new generation. Null if another run held the lock. */
  reindex(): Promise<IndexRunSummary | null>;
  /** Stops following the store, the embedding workers and the model. */
  close(): Promise<void>;
}

/**
 * Where the configured store keeps the index and the gallery (what the serving runtime and the
 * scheduled re-index both open).
 */
export function storeLocation(config: ApiConfig): Pick<OpenStoreOptions, 'kind' | 'indexDir' | 'databaseUrl' | 'schema' | 'poolMax' | 'gallery'> {
  return {
    kind: config.vectorStore,
    indexDir: config.indexDir,
    databaseUrl: config.databaseUrl,
    schema: config.pgSchema,
    poolMax: config.pgPoolMax,
    gallery: new GalleryStore(config.galleryDir, { storeDir: config.storeDir }),
  };
}

/** Whether `env` was marked by the Node adapter as served on loopback only. */
export function isLoopbackOnly(env: object): boolean {
  return (env as Record<symbol, unknown>)[LOOPBACK_ONLY] === true;
}

/** Images per catch-up / re-index chunk inside a server: small, so requests interleave with them. */
const SERVER_CHUNK = 64;

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
  let card: ModelCard;
  let modelDir: string;
  try {
    // An s3:// model is copied into scratch space first (only what changed since the last copy).
    modelDir = await localModelDir(config.modelDir);
    card = await readModelCard(modelDir);
  } catch (error) {
    throw new ConfigError(`no model in ${config.modelDir} (MODEL_DIR): ${(error as Error).message}`, { cause: error });
  }
  // The model loads (in worker threads, serving from this thread until they are up) while the
  // index is opened and verified; the embedder queues work until its runner has started.
  const slots = Math.max(1, config.embedWorkers);
  let started: Promise<unknown>;
  let embedder: Embedder;
  if (isFaceCard(card)) {
    const faceRunner = startFaceRunner(modelDir, card, { workers: config.embedWorkers, log });
    started = faceRunner;
    embedder = createFaceEmbedder(recipeFromCard(card), pendingFaceRunner(faceRunner, slots));
  } else {
    const runner = startRunner(modelDir, card, { workers: config.embedWorkers, batchSize: config.embedBatch, warmStart: true, log });
    started = runner;
    embedder = createEmbedder(recipeFromCard(card), pendingRunner(runner, slots), { maxBatch: config.embedBatch, chunkSize: SERVER_CHUNK });
  }
  started.catch(() => undefined); // awaited below
  const store = openStore({
    ...storeLocation(config),
    expect: { dim: card.embeddingSize, metric: card.metric, modelId: card.modelId, weightsHash: weightsHashOf(card) },
    ef: config.indexEf,
    embedder,
    log,
    pollMs: config.reloadPollMs,
    watch: config.watchIndex,
    buildCommand:
      config.vectorStore === 'local'
        ? `npm run index -- --model ${config.modelDir} --gallery ${config.galleryDir} --out ${config.indexDir}`
        : `npm run index -- --model ${config.modelDir} --gallery ${config.galleryDir} --vector-store pgvector`,
  });
  try {
    const [outcome] = await Promise.all([store.start(), started]);
    if (outcome === 'no-index') log.warn({ store: config.vectorStore, indexDir: config.vectorStore === 'local' ? config.indexDir : undefined, fix: store.status().problem?.fix }, 'no index yet: /readyz answers 503 until one is built');
  } catch (error) {
    await store.close().catch(() => undefined);
    await embedder.close().catch(() => undefined);
    throw error;
  }
  const metrics = createMetrics({ store, embedder });
  const app = createApp({ config, card, embedder, store, metrics, log, demoDir: options.demoDir });
  log.info({ model: card.modelId, index: store.status().generation, auth: authEnabled(config) ? 'keys' : 'open (loopback only)' }, 'runtime ready');
  return {
    config,
    card,
    app,
    store,
    embedder,
    metrics,
    log,
    reindex: () => store.reindex(),
    async close() {
      await store.close();
      await embedder.close();
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
