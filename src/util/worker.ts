/**
 * Starts a TypeScript module in a worker thread (each worker gets its own tfjs instance, which is how
 * twinsearch uses more than one core: the wasm backend is single-threaded in Node).
 */
import { Worker } from 'node:worker_threads';

/**
 * @example
 * const worker = startTsWorker(new URL('./grad-worker.ts', import.meta.url), { seed: 1 });
 * worker.postMessage({ type: 'step' });
 */
export function startTsWorker(entry: URL, data: unknown): Worker {
  const boot = new URL('./ts-worker-boot.mjs', import.meta.url);
  return new Worker(boot, { workerData: { entry: entry.href, data } });
}

/** The `data` passed to `startTsWorker`, read from inside the worker. */
export function tsWorkerData<T>(workerData: unknown): T {
  return (workerData as { data: T }).data;
}
