/**
 * A real server over the test fixture (model, gallery, index) for the hostile-input and fault runs:
 * the Node adapter (wrangler.toml + .dev.vars, functions/worker.ts) on an ephemeral loopback port,
 * in this process, so callers can read its memory and tensor counts.
 */
import * as tf from '@tensorflow/tfjs';
import { silentLogger } from '../../src/api/log.js';
import { startNodeAdapter, type NodeAdapter } from '../../src/api/node/index.js';
import { getRuntime, type Runtime } from '../../src/api/runtime.js';
import { ADMIN_KEY, createFixture, READ_KEY, type Fixture } from '../../test/fixtures/api.js';
import { writeWranglerConfig } from './config.js';

/**
 * Writes a wrangler.toml (and .dev.vars with the fixture keys) for the fixture; `vars` override.
 *
 * @example
 * const config = await writeFixtureConfig(fx, { EMBED_WORKERS: '0' });
 */
export function writeFixtureConfig(fx: Fixture, vars: Record<string, string> = {}): Promise<string> {
  const all = { MODEL_DIR: fx.modelDir, INDEX_DIR: fx.indexDir, GALLERY_DIR: fx.galleryDir, EMBED_WORKERS: '0', RELOAD_POLL_MS: '200', LOG_LEVEL: 'silent', ...vars };
  return writeWranglerConfig(fx.dir, 'twinsearch-fixture', all, { API_KEYS: READ_KEY, ADMIN_KEYS: ADMIN_KEY });
}

export interface MemorySample {
  rssMiB: number;
  heapMiB: number;
  externalMiB: number;
  tensors: number;
}

export interface FixtureServer {
  url: string;
  fx: Fixture;
  adapter: NodeAdapter;
  runtime: Runtime;
  /** RSS, heap, external memory (after a GC when --expose-gc) and tf.memory().numTensors. */
  sample(): MemorySample;
  /** Highest RSS seen by a 50 ms sampler since start. */
  peakRssMiB(): number;
  close(): Promise<void>;
}

const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

/**
 * @example
 * const server = await startFixtureServer(); await fetch(`${server.url}/healthz`); await server.close();
 */
export async function startFixtureServer(options: { identities?: number; perIdentity?: number; vars?: Record<string, string> } = {}): Promise<FixtureServer> {
  const fx = await createFixture({ identities: options.identities ?? 4, perIdentity: options.perIdentity ?? 3 });
  try {
    return await serveFixture(fx, options.vars);
  } catch (error) {
    await fx.cleanup();
    throw error;
  }
}

/**
 * Serves an existing fixture with the Node adapter in this process; `close()` also removes the
 * fixture (pass `keepFixture` to keep it, e.g. to restart on the same folders).
 *
 * @example
 * const server = await serveFixture(await createFixture(), { RELOAD_POLL_MS: '100' });
 */
export async function serveFixture(fx: Fixture, vars?: Record<string, string>, options: { keepFixture?: boolean } = {}): Promise<FixtureServer> {
  const adapter = await startNodeAdapter({ configPath: await writeFixtureConfig(fx, vars), port: 0, overrides: {}, crons: false, log: silentLogger });
  // The adapter's module and this call share the process-wide runtime (built by the warm-up request).
  const runtime = await getRuntime(adapter.env as Parameters<typeof getRuntime>[0]);
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  sampler.unref();
  return {
    url: adapter.url,
    fx,
    adapter,
    runtime,
    sample() {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      return { rssMiB: mib(m.rss), heapMiB: mib(m.heapUsed), externalMiB: mib(m.external + m.arrayBuffers), tensors: tf.memory().numTensors };
    },
    peakRssMiB: () => mib(peak),
    async close() {
      clearInterval(sampler);
      await adapter.close();
      if (!options.keepFixture) await fx.cleanup();
    },
  };
}
