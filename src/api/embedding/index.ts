/**
 * Embedding on the request path. Requests hand in preprocessed images; while every runner slot
 * (the serving thread, or each embedding worker thread) is busy, new requests queue, and the
 * next free slot takes everything queued (up to `maxBatch` images) as ONE forward pass. At one
 * request at a time this adds no delay; under load it turns many batch-1 passes into a few
 * larger ones, which the wasm backend runs far more efficiently per image.
 *
 * The runners are the index module's (`inProcessRunner`, `startWorkerRunner`), so serving and
 * indexing embed identically.
 */
import type { ChunkRunner } from '../../index/embedder.js';

export interface QueryEmbedder {
  readonly dim: number;
  /** Floats per preprocessed image (height x width x channels). */
  readonly imageSize: number;
  /**
   * Embeds preprocessed images; resolves one vector per input, in order.
   *
   * @example
   * const [vector] = await embedder.embed([input]);
   */
  embed(inputs: readonly Float32Array[]): Promise<Float32Array[]>;
  /** Forward passes run and images embedded so far (for metrics and tests). */
  stats(): { passes: number; images: number; largestPass: number; queued: number };
  /** Rejects queued work and stops the runner. */
  close(): Promise<void>;
}

export interface BatchingOptions {
  dim: number;
  imageSize: number;
  /** Most images in one forward pass (a single larger request still goes through whole). Default 32. */
  maxBatch?: number;
}

interface Job {
  inputs: readonly Float32Array[];
  resolve: (vectors: Float32Array[]) => void;
  reject: (error: Error) => void;
}

/**
 * @example
 * const embedder = batchingEmbedder(inProcessRunner(tower, meta), { dim: 64, imageSize: 784 });
 * const [a, b] = await embedder.embed([inputA, inputB]);
 */
export function batchingEmbedder(runner: ChunkRunner, options: BatchingOptions): QueryEmbedder {
  const { dim, imageSize } = options;
  const maxBatch = options.maxBatch ?? 32;
  const queue: Job[] = [];
  let inFlight = 0;
  let closed = false;
  const counters = { passes: 0, images: 0, largestPass: 0 };

  const dispatch = (jobs: Job[]): void => {
    const count = jobs.reduce((n, j) => n + j.inputs.length, 0);
    const data = new Float32Array(count * imageSize);
    let row = 0;
    for (const job of jobs) for (const input of job.inputs) data.set(input, row++ * imageSize);
    inFlight++;
    counters.passes++;
    counters.images += count;
    counters.largestPass = Math.max(counters.largestPass, count);
    Promise.resolve()
      .then(() => runner.run(data, count))
      .then(
        (out) => {
          if (out.length !== count * dim) throw new Error(`the embedder returned ${out.length} floats for ${count} images of dimension ${dim}`);
          let at = 0;
          for (const job of jobs) {
            job.resolve(job.inputs.map(() => out.slice(at * dim, ++at * dim)));
          }
        },
      )
      .catch((error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error));
        for (const job of jobs) job.reject(e);
      })
      .finally(() => {
        inFlight--;
        pump();
      });
  };

  const pump = (): void => {
    while (inFlight < runner.slots && queue.length > 0) {
      const jobs = [queue.shift() as Job];
      let count = jobs[0].inputs.length;
      while (queue.length > 0 && count + queue[0].inputs.length <= maxBatch) {
        const next = queue.shift() as Job;
        jobs.push(next);
        count += next.inputs.length;
      }
      dispatch(jobs);
    }
  };

  return {
    dim,
    imageSize,
    embed(inputs) {
      if (closed) return Promise.reject(new Error('the embedder is closed'));
      if (inputs.length === 0) return Promise.resolve([]);
      for (const input of inputs) {
        if (input.length !== imageSize) return Promise.reject(new RangeError(`an input has ${input.length} floats, expected ${imageSize}`));
      }
      return new Promise<Float32Array[]>((resolve, reject) => {
        queue.push({ inputs, resolve, reject });
        pump();
      });
    },
    stats: () => ({ ...counters, queued: queue.reduce((n, j) => n + j.inputs.length, 0) }),
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new Error('the embedder is closed'));
      await runner.close();
    },
  };
}

export interface HandoffOptions {
  /** Called once the hand-off happened (e.g. to free the stand-in's model), after its last pass finished. */
  onHandoff?: () => void;
  /** Called if the successor failed to start; the stand-in then keeps serving. */
  onSuccessorFailed?: (error: Error) => void;
}

/**
 * A runner that serves with `standIn` (the model in this thread, loaded in well under a second)
 * until `successor` (embedding worker threads, which take a second or more to boot their own
 * tfjs) is ready, then hands every later pass to the successor. A search can thus be answered
 * while the workers still start: cold start is that of in-thread embedding. If the successor
 * fails to start, the stand-in keeps serving (and `onSuccessorFailed` says why).
 *
 * @example
 * const runner = handoffRunner(inProcessRunner(tower, meta), startWorkerRunner(init, 1), { onHandoff: () => tower.dispose() });
 */
export function handoffRunner(standIn: ChunkRunner, successor: Promise<ChunkRunner>, options: HandoffOptions = {}): ChunkRunner {
  let next: ChunkRunner | null = null;
  let standInPasses = 0;
  let handedOff = false;
  const finishHandoff = (): void => {
    if (next && !handedOff && standInPasses === 0) {
      handedOff = true;
      options.onHandoff?.();
    }
  };
  const ready = successor.then(
    (runner) => {
      next = runner;
      finishHandoff();
      return runner;
    },
    (error: unknown) => {
      options.onSuccessorFailed?.(error instanceof Error ? error : new Error(String(error)));
      return null;
    },
  );
  return {
    get slots() {
      return next ? next.slots : standIn.slots;
    },
    async run(data, count) {
      if (next) return next.run(data, count);
      standInPasses++;
      try {
        return await standIn.run(data, count);
      } finally {
        standInPasses--;
        finishHandoff();
      }
    },
    async close() {
      const started = await ready;
      await Promise.all([standIn.close(), started?.close()]);
    },
  };
}
