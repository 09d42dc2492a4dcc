/**
 * Starts a module in a worker thread (each worker gets its own tfjs instance, which is how
 * twinsearch uses more than one core: the wasm backend is single-threaded in Node).
 *
 * Entries are named as imports are, with `.js`. Run from the sources (tsx, vitest), the `.ts`
 * file next to it starts through a tsx shim (Node 20 does not pass the parent's `--import`
 * hooks on to worker threads); run from the build (dist/), the emitted `.js` starts as it is and
 * nothing needs tsx.
 */
import { Worker } from 'node:worker_threads';

/** True when this module itself is TypeScript source, i.e. the process runs from the sources. */
const FROM_SOURCES = import.meta.url.endsWith('.ts');

/**
 * The file a worker entry names, for where this process runs from: `worker.js` stays `worker.js`
 * in the build and is `worker.ts` in the sources.
 *
 * @example
 * workerEntryFile(new URL('file:///app/src/embedding/worker.js'), true).href; // 'file:///app/src/embedding/worker.ts'
 */
export function workerEntryFile(entry: URL, fromSources: boolean = FROM_SOURCES): URL {
  if (!entry.pathname.endsWith('.js')) throw new Error(`worker entry ${entry.href} must name its module with .js, as imports do`);
  return fromSources ? new URL(entry.href.replace(/\.js$/, '.ts')) : entry;
}

/**
 * @example
 * const worker = startWorker(new URL('./grad-worker.js', import.meta.url), { seed: 1 });
 * worker.postMessage({ type: 'step' });
 */
export function startWorker(entry: URL, data: unknown): Worker {
  const file = workerEntryFile(entry);
  if (!FROM_SOURCES) return new Worker(file, { workerData: { data } });
  return new Worker(new URL('./ts-worker-boot.mjs', import.meta.url), { workerData: { entry: file.href, data } });
}

/** The `data` passed to `startWorker`, read from inside the worker. */
export function workerDataOf<T>(workerData: unknown): T {
  return (workerData as { data: T }).data;
}
