/**
 * Where gradients come from: the main thread itself, or a pool of worker threads that each take a
 * shard of the batch (synchronous data parallelism; the main thread averages and owns the optimizer).
 */
import type { Worker } from 'node:worker_threads';
import type { AffineRanges } from '../data/augment.js';
import type { PreprocessConfig, TowerConfig } from '../model/config.js';
import type { BackendPreference } from '../model/backend.js';
import { startWorker } from '../util/worker.js';
import { materialiseBatch, type BatchPlan } from './batch.js';
import { computeGradients, readWeights, type LossSettings, type StepResult, type Trainable } from './gradients.js';

export interface WorkerInit {
  backend?: BackendPreference;
  tower: TowerConfig;
  preprocess: PreprocessConfig;
  seed: number;
  withScale: boolean;
  /** Shape of the CosFace proxies, when training with that loss. */
  proxyShape?: [number, number];
  /** Training images, NHWC float32, in a SharedArrayBuffer (one copy for all workers). */
  images: SharedArrayBuffer;
  shape: [number, number, number];
  rotations: number;
  augment: AffineRanges | null;
  loss: LossSettings;
}

export interface WorkerRequest {
  weights: Float32Array[];
  plan: BatchPlan;
}

export type WorkerReply =
  | { ok: true; ready: true; backend: string }
  | ({ ok: true; ready?: undefined; backend: string } & StepResult)
  | { ok: false; error: string };

export interface GradientSource {
  /** Number of shards a batch is split into. */
  readonly shards: number;
  /** Loss and gradients for each shard plan, computed with the trainable's current weights. */
  compute(trainable: Trainable, plans: BatchPlan[]): Promise<StepResult[]>;
  close(): Promise<void>;
}

/** Single-threaded: the main thread computes the gradients itself. */
export function inlineGradients(init: Omit<WorkerInit, 'images' | 'backend' | 'tower' | 'preprocess' | 'seed' | 'withScale' | 'proxyShape'> & { images: Float32Array }): GradientSource {
  return {
    shards: 1,
    async compute(trainable, plans) {
      return plans.map((plan) => {
        const pixels = materialiseBatch(init.images, init.shape, plan, init.rotations, init.augment);
        return computeGradients(trainable, pixels, init.shape, plan, init.loss);
      });
    },
    async close() {},
  };
}

/**
 * A worker's replies as a queue: every message is kept until asked for, so a reply that arrives
 * before anyone awaits it (another worker's ready message, say) is not lost.
 */
class ReplyQueue {
  private readonly replies: WorkerReply[] = [];
  private waiting: { resolve: (r: WorkerReply) => void; reject: (e: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(worker: Worker) {
    worker.on('message', (reply: WorkerReply) => {
      if (this.waiting) this.settle().resolve(reply);
      else this.replies.push(reply);
    });
    worker.on('error', (err: Error) => this.fail(err));
    worker.on('exit', (code: number) => this.fail(new Error(`gradient worker exited with code ${code}`)));
  }

  next(): Promise<WorkerReply> {
    const queued = this.replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  private settle(): { resolve: (r: WorkerReply) => void; reject: (e: Error) => void } {
    const w = this.waiting!;
    this.waiting = undefined;
    return w;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    if (this.waiting) this.settle().reject(err);
  }
}

function unwrap(reply: WorkerReply): Extract<WorkerReply, { ok: true }> {
  if (!reply.ok) throw new Error(`gradient worker failed: ${reply.error}`);
  return reply;
}

/**
 * Starts `count` gradient workers and waits until each has its backend and tower ready.
 *
 * @example
 * const source = await startGradientWorkers(2, init);
 * const [a, b] = await source.compute(trainable, [planA, planB]);
 */
export async function startGradientWorkers(count: number, init: WorkerInit): Promise<GradientSource & { backend: string }> {
  const workers = Array.from({ length: count }, () => startWorker(new URL('./grad-worker.js', import.meta.url), init));
  const queues = workers.map((w) => new ReplyQueue(w));
  let backend = '';
  try {
    for (const q of queues) backend = unwrap(await q.next()).backend;
  } catch (err) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw err;
  }
  return {
    shards: count,
    backend,
    async compute(trainable, plans) {
      if (plans.length !== workers.length) throw new Error(`expected ${workers.length} plans, got ${plans.length}`);
      const weights = readWeights(trainable);
      const replies = workers.map((w, i) => {
        w.postMessage({ weights, plan: plans[i]! } satisfies WorkerRequest);
        return queues[i]!.next();
      });
      return (await Promise.all(replies)).map((r) => {
        const ok = unwrap(r);
        if (ok.ready) throw new Error('unexpected ready message');
        return { loss: ok.loss, grads: ok.grads };
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
