/**
 * The API's configuration, read from one flat `env` object: wrangler's `[vars]` plus secrets
 * (`.dev.vars` locally, platform secrets when deployed), or `process.env` on AWS Lambda.
 * Every key has a default that matches `npm start` (the sample model, gallery and index).
 */
import { basename, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { STORE_KINDS, type StoreKind } from '../../index/open-store.js';
import { isObjectUri, parseObjectUri } from '../../storage/location.js';

/** Largest `k` a request may ask for (the API contract). */
export const MAX_K = 100;
/** Largest threshold a request may give (unit vectors are at most 2 apart; 4 leaves room for unnormalised models). */
export const MAX_THRESHOLD = 4;

export interface ApiConfig {
  /** Trained model directory (model.json, weights.bin, model-card.json): a path, or an s3://bucket/prefix URI. */
  modelDir: string;
  /** Where the vectors live: `local` (HNSW snapshots in indexDir) or `pgvector` (Postgres at databaseUrl). */
  vectorStore: StoreKind;
  /** Index folder (CURRENT + snapshots) of the local store: a path, or an s3://bucket/prefix URI. */
  indexDir: string;
  /** pgvector: postgres://user:password@host:5432/database. */
  databaseUrl?: string;
  /** pgvector: the Postgres schema of the store (one per model, like index folders). */
  pgSchema?: string;
  /** pgvector: connections per instance (small for serverless: docs/index.md). */
  pgPoolMax: number;
  /** Gallery folder (one subfolder per identity), a path or an s3:// URI; enrolments go to its store. */
  galleryDir: string;
  /** Gallery store folder (journal + blobs), a path or an s3:// URI; default `<galleryDir>/.twinsearch`. */
  storeDir?: string;
  /** `k` when a request does not give one. */
  defaultK: number;
  /** Largest image accepted, in bytes actually read. */
  maxImageBytes: number;
  /** Largest request body (several images, base64 envelopes), in bytes actually read. */
  maxRequestBytes: number;
  /** sharp's limitInputPixels: decoded width x height above this is refused (decompression bombs). */
  maxInputPixels: number;
  /** Images narrower or lower than this (pixels) are refused with 422. */
  minImageSide: number;
  /** Pick the calibrated threshold for this false accept rate (one of the model card's); default: the card's default. */
  targetFar?: number;
  /** Images in one `/v1/search/batch` request. */
  maxBatch: number;
  /** Images in one enrolment request. */
  maxEnrolImages: number;
  /** Bearer keys for search, verify, embed and reading the gallery. */
  readKeys: string[];
  /** Bearer keys for enrolment and deletion (they can also read). */
  adminKeys: string[];
  /**
   * Embedding worker threads; 0 = embed in the serving thread. `auto` (default): one per core
   * but one, which keeps a core for HTTP and decoding (measured best at 16 connections on 2 cores,
   * docs/api.md); 0 on a single core.
   */
  embedWorkers: number;
  /** Largest forward pass when concurrent requests are batched together. */
  embedBatch: number;
  /** HNSW search ef; default the snapshot's. */
  indexEf?: number;
  /** Fallback poll of index/CURRENT (fs.watch can miss events on some filesystems); 0 = off. */
  reloadPollMs: number;
  /** Watch index/CURRENT for new snapshots. */
  watchIndex: boolean;
  /** Origins allowed by CORS; empty = no CORS headers (same-origin only). */
  corsOrigins: string[];
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** The env keys read, with their meaning (docs/api.md lists the same). */
export const CONFIG_KEYS = [
  'MODEL_DIR',
  'VECTOR_STORE',
  'INDEX_DIR',
  'DATABASE_URL',
  'PG_SCHEMA',
  'PG_POOL_MAX',
  'GALLERY_DIR',
  'STORE_DIR',
  'DEFAULT_K',
  'MAX_IMAGE_BYTES',
  'MAX_REQUEST_BYTES',
  'MAX_INPUT_PIXELS',
  'MIN_IMAGE_SIDE',
  'TARGET_FAR',
  'MAX_BATCH',
  'MAX_ENROL_IMAGES',
  'API_KEYS',
  'ADMIN_KEYS',
  'EMBED_WORKERS',
  'EMBED_BATCH',
  'INDEX_EF',
  'RELOAD_POLL_MS',
  'WATCH_INDEX',
  'CORS_ORIGINS',
  'LOG_LEVEL',
] as const;

export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** An env value: wrangler vars may be strings, numbers, booleans or JSON. */
export type EnvLike = Readonly<Record<string, unknown>>;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const keyList = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(/[\s,]+/)).map((k) => k.trim()).filter((k) => k.length > 0));
const bool = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])]).transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');

const schema = z.object({
  MODEL_DIR: z.string().min(1).default('models/sample'),
  VECTOR_STORE: z.enum(STORE_KINDS).default('local'),
  INDEX_DIR: z.string().min(1).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL').optional(),
  PG_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,47}$/, 'lower-case letters, digits and _ (at most 48), not starting with a digit').optional(),
  PG_POOL_MAX: int(1, 100).default(4),
  GALLERY_DIR: z.string().min(1).default('data/sample-digits'),
  STORE_DIR: z.string().min(1).optional(),
  DEFAULT_K: int(1, MAX_K).default(5),
  MAX_IMAGE_BYTES: int(1024).default(5 * 1024 * 1024),
  MAX_REQUEST_BYTES: int(1024).default(32 * 1024 * 1024),
  MAX_INPUT_PIXELS: int(64).default(4096 * 4096),
  MIN_IMAGE_SIDE: int(1).default(8),
  TARGET_FAR: z.coerce.number().gt(0).lt(1).optional(),
  MAX_BATCH: int(1, 256).default(16),
  MAX_ENROL_IMAGES: int(1, 1000).default(32),
  API_KEYS: keyList.default([]),
  ADMIN_KEYS: keyList.default([]),
  EMBED_WORKERS: z.union([z.literal('auto'), int(0, 64)]).default('auto'),
  EMBED_BATCH: int(1, 1024).default(32),
  INDEX_EF: int(1).optional(),
  RELOAD_POLL_MS: int(0).default(5000),
  WATCH_INDEX: bool.default(true),
  CORS_ORIGINS: keyList.default([]),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** A configuration value that failed validation; the message names every bad key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Keys shorter than this are refused: a guessable key is no key. */
export const MIN_KEY_LENGTH = 16;

/**
 * Parses the env into an `ApiConfig`. Relative directories are resolved against `baseDir`
 * (the folder of wrangler.toml, or the working directory). Empty strings count as unset.
 *
 * @example
 * const config = parseApiConfig({ MODEL_DIR: 'models/omniglot', API_KEYS: 'k1-…,k2-…' }, { baseDir: '/srv/twinsearch', cores: 2 });
 * config.embedWorkers // 1 (auto: one per core but one)
 */
export function parseApiConfig(env: EnvLike, options: { baseDir?: string; cores?: number } = {}): ApiConfig {
  const raw: Record<string, unknown> = {};
  for (const key of CONFIG_KEYS) {
    const value = env[key];
    if (value !== undefined && value !== null && value !== '') raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const v = parsed.data;
  if (v.VECTOR_STORE === 'pgvector' && v.DATABASE_URL === undefined) throw new ConfigError('invalid configuration:\n  DATABASE_URL: required with VECTOR_STORE=pgvector (postgres://user:password@host:5432/database)');
  const short = [...v.API_KEYS, ...v.ADMIN_KEYS].filter((k) => k.length < MIN_KEY_LENGTH);
  if (short.length) throw new ConfigError(`invalid configuration: API keys must be at least ${MIN_KEY_LENGTH} characters (${short.length} too short)`);
  const baseDir = options.baseDir ?? process.cwd();
  const badUris = (['MODEL_DIR', 'INDEX_DIR', 'GALLERY_DIR', 'STORE_DIR'] as const).flatMap((key) => {
    const value = v[key];
    if (value === undefined || !isObjectUri(value)) return [];
    try {
      parseObjectUri(value);
      return [];
    } catch (error) {
      return [`  ${key}: ${(error as Error).message}`];
    }
  });
  if (badUris.length) throw new ConfigError(`invalid configuration:\n${badUris.join('\n')}`);
  // Local paths resolve against the base directory; s3:// URIs are taken as they are.
  const dir = (p: string): string => (isObjectUri(p) || isAbsolute(p) ? p : resolve(baseDir, p));
  const cores = options.cores ?? 1;
  return {
    modelDir: dir(v.MODEL_DIR),
    vectorStore: v.VECTOR_STORE,
    indexDir: dir(v.INDEX_DIR ?? defaultIndexDir(v.MODEL_DIR)),
    databaseUrl: v.DATABASE_URL,
    pgSchema: v.PG_SCHEMA,
    pgPoolMax: v.PG_POOL_MAX,
    galleryDir: dir(v.GALLERY_DIR),
    storeDir: v.STORE_DIR === undefined ? undefined : dir(v.STORE_DIR),
    defaultK: v.DEFAULT_K,
    maxImageBytes: v.MAX_IMAGE_BYTES,
    maxRequestBytes: Math.max(v.MAX_REQUEST_BYTES, v.MAX_IMAGE_BYTES),
    maxInputPixels: v.MAX_INPUT_PIXELS,
    minImageSide: v.MIN_IMAGE_SIDE,
    targetFar: v.TARGET_FAR,
    maxBatch: v.MAX_BATCH,
    maxEnrolImages: v.MAX_ENROL_IMAGES,
    readKeys: v.API_KEYS,
    adminKeys: v.ADMIN_KEYS,
    embedWorkers: v.EMBED_WORKERS === 'auto' ? Math.max(0, cores - 1) : v.EMBED_WORKERS,
    embedBatch: v.EMBED_BATCH,
    indexEf: v.INDEX_EF,
    reloadPollMs: v.RELOAD_POLL_MS,
    watchIndex: v.WATCH_INDEX,
    corsOrigins: v.CORS_ORIGINS,
    logLevel: v.LOG_LEVEL,
  };
}

/**
 * Each model gets its own index folder unless INDEX_DIR says otherwise: `index/<model folder name>`,
 * so indexing a second model never replaces the first one's snapshots.
 *
 * @example
 * defaultIndexDir('models/faces') // 'index/faces'
 */
export function defaultIndexDir(modelDir: string): string {
  return join('index', basename(resolve(modelDir)));
}

/** True when any API key is configured (auth is on). */
export function authEnabled(config: Pick<ApiConfig, 'readKeys' | 'adminKeys'>): boolean {
  return config.readKeys.length + config.adminKeys.length > 0;
}
