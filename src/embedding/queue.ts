/**
 * The batching queue in front of a runner. While every runner slot (this thread, or each worker)
 * is busy, new work queues, and the next free slot takes everything queued (up to a most number of
 * images) as ONE pass. At one request at a time this adds no delay; under load it turns many
 * batch-1 passes into a few larger ones, which the wasm backend runs far more efficiently per
 * image. A single job larger than the most (an index chunk) goes through whole.
 *
 * `passQueue` is the scheduling, generic over what a job holds; `batchQueue` (tower images as
 * floats) and the face embedder's queue (decoded photos) say how jobs merge into a pass and how its
 * answer splits back.
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

export interface PassQueue<Job, Answer> {
  /** Queues a job; it runs in the next pass a slot takes. Rejects after `close`, or when its pass fails. */
  submit(job: Job): Promise<Answer>;
  stats(): QueueStats;
  /** Rejects queued work and closes the runner. */
  close(): Promise<void>;
}

export interface PassQueueOptions<Job, Answer> {
  /** Passes that may run at once; read at every dispatch (a runner still starting may change it). */
  slots: () => number;
  /** Images in a job. */
  size: (job: Job) => number;
  /** Most images one pass merges from queued jobs. */
  maxImages: number;
  /** Runs one pass over the jobs; resolves one answer per job, in order. */
  run: (jobs: Job[]) => Promise<Answer[]>;
  /** The answer to a job of no images (which never reaches `run`). */
  emptyAnswer: () => Answer;
  close: () => Promise<void>;
}

interface Queued<Job, Answer> {
  job: Job;
  resolve: (answer: Answer) => void;
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
 * const queue = passQueue({ slots: () => runner.slots, size: (job) => job.count, maxImages: 32, run, emptyAnswer: () => new Float32Array(0), close: () => runner.close() });
 */
export function passQueue<Job, Answer>(options: PassQueueOptions<Job, Answer>): PassQueue<Job, Answer> {
  const { slots, size, maxImages, run } = options;
  const queue: Queued<Job, Answer>[] = [];
  const sizeOf = (entry: Queued<Job, Answer>) => size(entry.job);
  let inFlight = 0;
  let closed = false;
  const counters = { passes: 0, images: 0, largestPass: 0 };

  const dispatch = (entries: Queued<Job, Answer>[]): void => {
    const count = entries.reduce((n, e) => n + sizeOf(e), 0);
    inFlight++;
    counters.passes++;
    counters.images += count;
    counters.largestPass = Math.max(counters.largestPass, count);
    Promise.resolve()
      .then(() => run(entries.map((e) => e.job)))
      .then((answers) => {
        if (answers.length !== entries.length) throw new Error(`a pass answered ${answers.length} jobs of ${entries.length}`);
        entries.forEach((entry, i) => entry.resolve(answers[i]));
      })
      .catch((error: unknown) => {
        const e = error instanceof Error ? error : new Error(String(error));
        for (const entry of entries) entry.reject(e);
      })
      .finally(() => {
        inFlight--;
        pump();
      });
  };

  const pump = (): void => {
    while (inFlight < slots() && queue.length > 0) dispatch(takeJobs(queue, sizeOf, maxImages));
  };

  return {
    submit(job) {
      if (closed) return Promise.reject(new Error('the embedder is closed'));
      if (size(job) === 0) return Promise.resolve(options.emptyAnswer());
      return new Promise<Answer>((resolve, reject) => {
        queue.push({ job, resolve, reject });
        pump();
      });
    },
    stats: () => ({ ...counters, queued: queue.reduce((n, e) => n + sizeOf(e), 0) }),
    async close() {
      closed = true;
      for (const entry of queue.splice(0)) entry.reject(new Error('the embedder is closed'));
      await options.close();
    },
  };
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

interface ImagesJob {
  data: Float32Array;
  count: number;
}

/**
 * The pass queue for a tower's runner: jobs are preprocessed images, a pass is their floats back to back.
 *
 * @example
 * const queue = batchQueue(runner, { dim: 64, imageFloats: 784 });
 * const [a, b] = await Promise.all([queue.submit(x, 1), queue.submit(y, 1)]); // one pass when the runner was busy
 */
export function batchQueue(runner: Runner, options: BatchQueueOptions): BatchQueue {
  const { dim, imageFloats } = options;
  const run = async (jobs: ImagesJob[]): Promise<Float32Array[]> => {
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
    const out = await runner.run(data, count);
    if (out.length !== count * dim) throw new Error(`the runner returned ${out.length} floats for ${count} images of dimension ${dim}`);
    if (jobs.length === 1) return [out];
    let at = 0;
    return jobs.map((job) => {
      const rows = out.slice(at * dim, (at + job.count) * dim);
      at += job.count;
      return rows;
    });
  };
  const queue = passQueue<ImagesJob, Float32Array>({
    slots: () => runner.slots,
    size: (job) => job.count,
    maxImages: options.maxBatch ?? 32,
    run,
    emptyAnswer: () => new Float32Array(0),
    close: () => runner.close(),
  });
  return {
    submit(data, count) {
      if (data.length < count * imageFloats) return Promise.reject(new RangeError(`${count} images need ${count * imageFloats} floats, got ${data.length}`));
      return queue.submit({ data, count });
    },
    stats: queue.stats,
    close: queue.close,
  };
}
