/**
 * A `Runner` over worker threads, each with its own tfjs and its own copy of the tower:
 * the wasm backend runs on one core in Node, so one worker per core is how embedding uses
 * the whole machine. Chunks go to whichever worker is free.
 */
import type { Worker } from 'node:worker_threads';
import type { BackendPreference } from '../model/backend.js';
import { startWorker } from '../util/worker.js';
import type { Runner } from './runner.js';

export interface EmbedWorkerInit {
  modelDir: string;
  /** Refuse to start unless the model directory holds this model (it may change while workers boot). */
  modelId?: string;
  backend?: BackendPreference;
  batchSize: number;
}

export type EmbedWorkerRequest = { id: number; data: Float32Array; count: number };
export type EmbedWorkerReply =
  | { ok: true; ready: true; dim: number; backend: string }
  | { ok: true; ready?: undefined; id: number; vectors: Float32Array }
  | { ok: false; id?: number; error: string };

interface PoolWorker {
  worker: Worker;
  busy: boolean;
}

/**
 * Starts `count` embedding workers and resolves once every one has loaded the model.
 *
 * @example
 * const runner = await startWorkerRunner({ modelDir: 'models/omniglot', batchSize: 64 }, 2);
 * const vectors = await runner.run(images, 256);
 * await runner.close();
 */
export async function startWorkerRunner(init: EmbedWorkerInit, count: number): Promise<Runner & { dim: number }> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`need at least one worker, got ${count}`);
  const pool: PoolWorker[] = [];
  const pending = new Map<number, { resolve: (v: Float32Array) => void; reject: (e: Error) => void; worker: PoolWorker }>();
  const waiting: (() => void)[] = [];
  let nextId = 1;
  let closed = false;

  const failAll = (error: Error, only?: PoolWorker): void => {
    for (const [id, job] of pending) {
      if (only && job.worker !== only) continue;
      pending.delete(id);
      job.reject(error);
    }
  };

  const ready = Array.from({ length: count }, () => {
    const worker = startWorker(new URL('./worker.js', import.meta.url), init);
    const member: PoolWorker = { worker, busy: false };
    pool.push(member);
    return new Promise<number>((resolve, reject) => {
      worker.on('message', (reply: EmbedWorkerReply) => {
        if (reply.ok && reply.ready) return resolve(reply.dim);
        if (!reply.ok && reply.id === undefined) return reject(new Error(`embedding worker failed to start: ${reply.error}`));
        const job = reply.id === undefined ? undefined : pending.get(reply.id);
        if (!job) return;
        pending.delete(reply.id as number);
        member.busy = false;
        waiting.shift()?.();
        if (reply.ok) job.resolve(reply.vectors);
        else job.reject(new Error(`embedding worker: ${reply.error}`));
      });
      worker.on('error', (error) => {
        reject(error);
        failAll(error, member);
      });
      worker.on('exit', (code) => {
        const error = new Error(`embedding worker exited with code ${code}`);
        reject(error);
        if (!closed) failAll(error, member);
      });
    });
  });

  let dims: number[];
  try {
    dims = await Promise.all(ready);
  } catch (error) {
    closed = true;
    await Promise.all(pool.map((p) => p.worker.terminate()));
    throw error;
  }

  const acquire = async (): Promise<PoolWorker> => {
    for (;;) {
      const free = pool.find((p) => !p.busy);
      if (free) {
        free.busy = true;
        return free;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };

  return {
    slots: count,
    dim: dims[0],
    async run(data, imageCount) {
      if (closed) throw new Error('worker runner is closed');
      const member = await acquire();
      const id = nextId++;
      return new Promise<Float32Array>((resolve, reject) => {
        pending.set(id, { resolve, reject, worker: member });
        const request: EmbedWorkerRequest = { id, data, count: imageCount };
        member.worker.postMessage(request, [data.buffer as ArrayBuffer]);
      });
    },
    async close() {
      closed = true;
      failAll(new Error('worker runner closed'));
      await Promise.all(pool.map((p) => p.worker.terminate()));
    },
  };
}
