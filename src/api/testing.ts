/**
 * Fixtures for the API tests and the benchmark smoke test: a tiny random-weight model, a small
 * synthetic gallery, a real index built from them, and a runtime serving it. Not used in production.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openModelEmbedder } from '../index/model-embedder.js';
import { runIndex } from '../index/reindex.js';
import { GalleryStore } from '../index/store.js';
import { syntheticPng as syntheticPngBuffer, writeSyntheticGallery, writeTinyModel } from '../index/testing.js';
import type { EnvLike } from './config/index.js';
import { ApiError } from './errors/index.js';
import { silentLogger } from './log.js';
import { createRuntime, LOOPBACK_ONLY, type Runtime } from './runtime.js';

/** The index fixtures' synthetic PNG (seed `identity * 1000 + index` is a gallery image), as a plain Uint8Array. */
export async function syntheticPng(seed: number, size?: number): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await syntheticPngBuffer(seed, size));
}

/** How a promise fails: "<status> <code>" for an ApiError, the error text otherwise, or "no error". */
export async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (error) {
    return error instanceof ApiError ? `${error.status} ${error.code}` : String(error);
  }
}

/** A copy of any bytes as a `BodyInit`-compatible Uint8Array. */
export const bytes = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

export const READ_KEY = 'read-key-0123456789abcdef';
export const ADMIN_KEY = 'admin-key-0123456789abcdef';

export interface Fixture {
  dir: string;
  modelDir: string;
  galleryDir: string;
  indexDir: string;
  /**
   * Builds (mode 'build') or re-indexes the fixture's index with an in-thread embedder.
   * `afterListing` runs once the job has read the gallery and its journal, before it embeds and writes.
   */
  index(mode?: 'build' | 'reindex', options?: { afterListing?: () => Promise<void> }): Promise<string>;
  /** The env a runtime for this fixture needs (plus `extra`). */
  env(extra?: Record<string, unknown>): Record<string | symbol, unknown>;
  cleanup(): Promise<void>;
}

/**
 * A temp folder with a tiny model, `identities` x `perIdentity` synthetic images
 * (`id000/0.png`, …, seeds `identity * 1000 + index`) and, unless `index: false`, an index.
 *
 * @example
 * const fx = await createFixture({ identities: 4, perIdentity: 3 });
 * const runtime = await createRuntime(fx.env(), { log: silentLogger });
 */
export async function createFixture(options: { identities?: number; perIdentity?: number; index?: boolean } = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'api-'));
  const modelDir = join(dir, 'model');
  const galleryDir = join(dir, 'gallery');
  const indexDir = join(dir, 'index');
  await writeTinyModel(modelDir, { seed: 1 });
  await writeSyntheticGallery(galleryDir, options.identities ?? 4, options.perIdentity ?? 3);
  const fixture: Fixture = {
    dir,
    modelDir,
    galleryDir,
    indexDir,
    async index(mode = 'build', options = {}) {
      const model = await openModelEmbedder(modelDir, { workers: 0 });
      const { afterListing } = options;
      // The job embeds right after listing: wrapping embed() reaches the moment in between.
      const embedder = afterListing ? { ...model, embed: async (...args: Parameters<typeof model.embed>) => (await afterListing(), model.embed(...args)) } : model;
      try {
        const summary = await runIndex({ indexDir, store: new GalleryStore(galleryDir), embedder, mode });
        return summary.version;
      } finally {
        await model.close();
      }
    },
    env(extra = {}) {
      return {
        MODEL_DIR: modelDir,
        INDEX_DIR: indexDir,
        GALLERY_DIR: galleryDir,
        EMBED_WORKERS: '0',
        RELOAD_POLL_MS: '200',
        LOG_LEVEL: 'silent',
        ...extra,
      };
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  if (options.index ?? true) await fixture.index('build');
  return fixture;
}

/** An env without keys, marked as served on loopback (what the Node adapter does). */
export function openEnv(env: Record<string | symbol, unknown>): EnvLike {
  return { ...env, [LOOPBACK_ONLY]: true } as EnvLike;
}

/**
 * A runtime over the fixture, keys on (read + admin) unless `open`.
 *
 * @example
 * const rt = await fixtureRuntime(fx); const res = await rt.app.request('/readyz');
 */
export function fixtureRuntime(fx: Fixture, options: { open?: boolean; env?: Record<string, unknown> } = {}): Promise<Runtime> {
  const env = fx.env({ ...(options.open ? {} : { API_KEYS: READ_KEY, ADMIN_KEYS: ADMIN_KEY }), ...options.env });
  return createRuntime(options.open ? openEnv(env) : env, { log: silentLogger, demoDir: join(fx.dir, 'demo') });
}

/** Writes a demo folder for the fixture (the real page is written separately). */
export async function writeDemo(fx: Fixture, html = '<!doctype html><title>twinsearch demo</title>'): Promise<void> {
  await mkdir(join(fx.dir, 'demo'), { recursive: true });
  await writeFile(join(fx.dir, 'demo', 'index.html'), html);
}

/** Headers with a Bearer key. */
export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
