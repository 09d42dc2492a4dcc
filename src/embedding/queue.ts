/**
 * The batching queue in front of a runner. While every runner slot (this thread, or each worker)
 * is busy, new work queues, and the next free slot takes everything queued (up to `maxBatch`
 * images) as ONE pass. At one request at a time this adds no delay; under load it turns many
 * batch-1 passes into a few larger ones, which the wasm backend runs far more efficiently per
 * image. A single job larger than `maxBatch` (an index chunk) goes through whole.
 */
import type { Runner } from './runner.js';

export interface QueueStats {
  /** Passes handed to the runner, and images in them. */
  passes: number;
  images: number;
  largestPass: number;
  /** Images waiting for a free slot. */
  queued: number;
}

export interface BatchQueue {
  /**
   * Embeds `count` preprocessed images stored back to back in `data`; resolves `count * dim`
   * floats. `data` may be handed to a worker: do not reuse it.
   */
  submit(data: Float32Array, count: number): Promise<Float32Array>;
  stats(): QueueStats;
  /** Rejects queued work and closes the runner. */
  close(): Promise<void>;
}

export interface BatchQueueOptions {
  dim: number;
  imageFloats: number;
  /** Most images one pass merges from queued jobs. Default 32. */
  maxBatch?: number;
}

interface Job {
  data: Float32Array;
  count: number;
  resolve: (vectors: Float32Array) => void;
  reject: (error: Error) => void;
}

/**
 * Takes the first queued job and as many following ones as fit with it in `max` items (a first job
 * larger than `max` goes alone): the jobs of one pass.
 *
 * @example
 * takeJobs(queue, (job) => job.count, 32);
 */
export function takeJobs<J>(queue: J[], size: (job: J) => number, max: number): J[] {
  const jobs = [queue.shift() as J];
  let count = size(jobs[0]);
  while (queue.length > 0 && count + size(queue[0]) <= max) {
    count += size(queue[0]);
    jobs.push(queue.shift() as J);
  }
  return jobs;
}

/**
 * @example
 * const queue = batchQueue(runner, { dim: 64, imageFloats: 784 });
 * const [a, b] = await Promise.all([queue.submit(x, 1), queue.submit(y, 1)]); // one pass when the runner was busy
 */
export function batchQueue(runner: Runner, options: BatchQueueOptions): BatchQueue {
  const { dim, imageFloats } = options;
  const maxBatch = options.maxBatch ?? 32;
  const queue: Job[] = [];
  let inFlight = 0;
  let closed = false;
  const counters = { passes: 0, images: 0, largestPass: 0 };

  const dispatch = (jobs: Job[]): void => {
    const count = jobs.reduce((n, j) => n + j.count, 0);
    let data = jobs[0].data;
    if (jobs.length > 1) {
      data = new Float32Array(count * imageFloats);
      let at = 0;
      for (const job of jobs) {
        data.set(job.data.subarray(0, job.count * imageFloats), at);
        at += job.count * imageFloats;
      }
    }
    inFlight++;
    counters.passes++;
    counters.images += count;
    counters.largestPass = Math.max(counters.largestPass, count);
    Promise.resolve()
      .then(() => runner.run(data, count))
      .then((out) => {
        if (out.length !== count * dim) throw new Error(`the runner returned ${out.length} floats for ${count} images of dimension ${dim}`);
        if (jobs.length === 1) return jobs[0].resolve(out);
        let at = 0;
        for (const job of jobs) {
          job.resolve(out.slice(at * dim, (at + job.count) * dim));
          at += job.count;
        }
      })
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
    while (inFlight < runner.slots && queue.length > 0) dispatch(takeJobs(queue, (j) => j.count, maxBatch));
  };

  return {
    submit(data, count) {
      if (closed) return Promise.reject(new Error('the embedder is closed'));
      if (count === 0) return Promise.resolve(new Float32Array(0));
      if (data.length < count * imageFloats) return Promise.reject(new RangeError(`${count} images need ${count * imageFloats} floats, got ${data.length}`));
      return new Promise<Float32Array>((resolve, reject) => {
        queue.push({ data, count, resolve, reject });
        pump();
      });
    },
    stats: () => ({ ...counters, queued: queue.reduce((n, j) => n + j.count, 0) }),
    async close() {
      closed = true;
      for (const job of queue.splice(0)) job.reject(new Error('the embedder is closed'));
      await runner.close();
    },
  };
}
