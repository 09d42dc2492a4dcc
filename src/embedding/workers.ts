/**
 * A `Runner` over worker threads, each with its own tfjs and its own copy of the tower:
 * the wasm backend runs on one core in Node, so one worker per core is how embedding uses
 * the whole machine. Chunks go to whichever worker is free.
 */
import type { Worker } from 'node:worker_threads';
import type { BackendPreference } from '../model/backend.js';
import { startWorker } from '../util/worker.js';
import type { DescribedFace } from '../face/model.js';
import type { FaceImage, FaceRunner } from './faces.js';
import type { Runner } from './runner.js';

export interface EmbedWorkerInit {
  modelDir: string;
  /** Refuse to start unless the model directory holds this model (it may change while workers boot). */
  modelId?: string;
  backend?: BackendPreference;
  batchSize: number;
}

export type EmbedWorkerRequest =
  | { id: number; kind: 'embed'; data: Float32Array; count: number }
  | { id: number; kind: 'faces'; images: FaceImage[]; chips: boolean };
export type EmbedWorkerReply =
  | { ok: true; ready: true; dim: number; backend: string; faces: boolean }
  | { ok: true; ready?: undefined; id: number; vectors: Float32Array }
  | { ok: true; ready?: undefined; id: number; faces: DescribedFace[][] }
  | { ok: false; id?: number; error: string };

type JobReply = Exclude<EmbedWorkerReply, { ready: true } | { ok: false }>;
type JobRequest = EmbedWorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface PoolWorker {
  worker: Worker;
  busy: boolean;
}

interface Pool {
  slots: number;
  dim: number;
  faces: boolean;
  call(request: JobRequest, transfer: ArrayBuffer[]): Promise<JobReply>;
  close(): Promise<void>;
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
  const pool = await startPool(init, count);
  if (pool.faces) {
    await pool.close();
    throw new Error(`${init.modelDir} holds a face model: start it with startFaceWorkerRunner`);
  }
  return {
    slots: pool.slots,
    dim: pool.dim,
    async run(data, imageCount) {
      const reply = await pool.call({ kind: 'embed', data, count: imageCount }, [data.buffer as ArrayBuffer]);
      if (!('vectors' in reply)) throw new Error('embedding worker: expected vectors');
      return reply.vectors;
    },
    close: () => pool.close(),
  };
}

/**
 * Starts `count` workers that each load a face model (stage + tower) and describe every face of
 * the images they are sent.
 *
 * @example
 * const runner = await startFaceWorkerRunner({ modelDir: 'models/faces', batchSize: 8 }, 2);
 * const [faces] = await runner.run([{ pixels, width, height }]);
 */
export async function startFaceWorkerRunner(init: EmbedWorkerInit, count: number): Promise<FaceRunner & { dim: number }> {
  const pool = await startPool(init, count);
  if (!pool.faces) {
    await pool.close();
    throw new Error(`${init.modelDir} holds no face model`);
  }
  return {
    slots: pool.slots,
    dim: pool.dim,
    async run(images, options = {}) {
      const reply = await pool.call({ kind: 'faces', images: [...images], chips: options.chips ?? false }, [...new Set(images.map((im) => im.pixels.buffer as ArrayBuffer))]);
      if (!('faces' in reply)) throw new Error('embedding worker: expected faces');
      return reply.faces;
    },
    close: () => pool.close(),
  };
}

async function startPool(init: EmbedWorkerInit, count: number): Promise<Pool> {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`need at least one worker, got ${count}`);
  const pool: PoolWorker[] = [];
  const pending = new Map<number, { resolve: (v: JobReply) => void; reject: (e: Error) => void; worker: PoolWorker }>();
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
    return new Promise<{ dim: number; faces: boolean }>((resolve, reject) => {
      worker.on('message', (reply: EmbedWorkerReply) => {
        if (reply.ok && reply.ready) return resolve({ dim: reply.dim, faces: reply.faces });
        if (!reply.ok && reply.id === undefined) return reject(new Error(`embedding worker failed to start: ${reply.error}`));
        const job = reply.id === undefined ? undefined : pending.get(reply.id);
        if (!job) return;
        pending.delete(reply.id as number);
        member.busy = false;
        waiting.shift()?.();
        if (reply.ok) job.resolve(reply);
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

  let started: { dim: number; faces: boolean }[];
  try {
    started = await Promise.all(ready);
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
    dim: started[0].dim,
    faces: started[0].faces,
    async call(request, transfer) {
      if (closed) throw new Error('worker runner is closed');
      const member = await acquire();
      const id = nextId++;
      return new Promise<JobReply>((resolve, reject) => {
        pending.set(id, { resolve, reject, worker: member });
        member.worker.postMessage({ ...request, id } as EmbedWorkerRequest, transfer);
      });
    },
    async close() {
      closed = true;
      failAll(new Error('worker runner closed'));
      await Promise.all(pool.map((p) => p.worker.terminate()));
    },
  };
}
