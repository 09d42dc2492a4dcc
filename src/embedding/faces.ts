/**
 * The embedding seam for face models. An image is decoded to RGB at its own size (no resize: the
 * face stage finds the faces), and a face runner — this thread or worker threads — runs detect →
 * landmarks → align → tower, returning per image every face with its box, score and vector,
 * largest first. The face embedder is an `Embedder` whose `embedAll` (the index job, catch-up)
 * takes each image's largest face, and whose `faces` member serves the API every face.
 */
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { classifySharpError, DEFAULT_LIMIT_INPUT_PIXELS, ImageDecodeError, type PreprocessOptions } from '../data/preprocess.js';
import type { DescribedFace, FacePipeline } from '../face/model.js';
import type { EmbedAllResult, Embedder, EmbedInput } from './embedder.js';
import { passQueue, type PassQueue } from './queue.js';
import type { EmbeddingRecipe } from './recipe.js';

/** A decoded image: 8-bit RGB, interleaved, row-major. */
export interface FaceImage {
  pixels: Uint8Array;
  width: number;
  height: number;
}

export interface FaceOptions {
  /** Also return each face's aligned chip (150x150 RGB bytes), for thumbnails. */
  chips?: boolean;
}

/** Where the face stage and tower run: this thread or worker threads (workers.ts). */
export interface FaceRunner {
  readonly slots: number;
  /** Every face of each image, largest first. May take ownership of the pixels (workers transfer them). */
  run(images: readonly FaceImage[], options?: FaceOptions): Promise<DescribedFace[][]>;
  close(): Promise<void>;
}

/** The face half of a face model's embedder. */
export interface FaceSearch {
  /**
   * Decodes an image (EXIF orientation, first frame, sRGB, alpha flattened on white) at its own size.
   * Throws `ImageDecodeError` like `Embedder.prepare`.
   */
  decode(input: EmbedInput, options?: PreprocessOptions): Promise<FaceImage>;
  /** Every face of each image with its vector, largest first; concurrent calls share passes. */
  find(images: readonly FaceImage[], options?: FaceOptions): Promise<DescribedFace[][]>;
}

/**
 * Runs a face pipeline in this thread; `close` disposes it when `owned`.
 *
 * @example
 * const runner = inThreadFaceRunner(await loadFacePipeline(card), { owned: true });
 */
export function inThreadFaceRunner(pipeline: FacePipeline, options: { owned?: boolean } = {}): FaceRunner {
  let closed = false;
  return {
    slots: 1,
    run: (images, faceOptions = {}) => {
      if (closed) return Promise.reject(new Error('the runner is closed'));
      return pipeline.describe(images, faceOptions);
    },
    async close() {
      if (!closed && options.owned) pipeline.dispose();
      closed = true;
    },
  };
}

/**
 * A face runner usable at once whose passes wait for `runner` to start (and fail if it does not).
 *
 * @example
 * const runner = pendingFaceRunner(startFaceRunner(dir, card, { workers: 2 }), 2);
 */
export function pendingFaceRunner(runner: Promise<FaceRunner>, slots: number): FaceRunner {
  let started: FaceRunner | null = null;
  runner.then((r) => (started = r), () => undefined);
  return {
    get slots() {
      return started ? started.slots : slots;
    },
    run: async (images, options) => (await runner).run(images, options),
    close: async () => (await runner.catch(() => null))?.close(),
  };
}

/**
 * Decodes image bytes or a file at their own size to RGB.
 *
 * @example
 * const image = await decodeFaceImage(bytes, { limitInputPixels: 16_777_216 }); // { pixels, width, height }
 */
export async function decodeFaceImage(input: EmbedInput, options: PreprocessOptions = {}): Promise<FaceImage> {
  const bytes = typeof input === 'string' ? await readFile(input) : input;
  const what = typeof input === 'string' ? input : 'the image';
  if (bytes.byteLength === 0) throw new ImageDecodeError('EMPTY_IMAGE', `${what} is empty (0 bytes)`);
  const limit = options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  try {
    const { data, info } = await sharp(bytes, { limitInputPixels: limit, pages: 1, failOn: 'truncated' })
      .rotate()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`sharp returned ${info.channels} channels, expected 3`);
    // A buffer of its own, so a worker can take it over.
    return { pixels: new Uint8Array(data), width: info.width, height: info.height };
  } catch (error) {
    throw await classifySharpError(error, bytes, input, limit);
  }
}

interface FacesJob {
  images: readonly FaceImage[];
  chips: boolean;
}

/**
 * The pass queue for a face runner: while every slot is busy, requests queue, and the next free slot
 * takes up to `maxImages` queued images as one pass (their chips embedded together).
 */
function faceQueue(runner: FaceRunner, maxImages: number): PassQueue<FacesJob, DescribedFace[][]> {
  const run = async (jobs: FacesJob[]): Promise<DescribedFace[][][]> => {
    const images = jobs.flatMap((j) => j.images);
    const out = await runner.run(images, { chips: jobs.some((j) => j.chips) });
    if (out.length !== images.length) throw new Error(`the face runner answered ${out.length} images of ${images.length}`);
    let at = 0;
    return jobs.map((job) => {
      const mine = out.slice(at, at + job.images.length);
      at += job.images.length;
      return job.chips ? mine : mine.map((faces) => faces.map(({ chip: _, ...face }) => face));
    });
  };
  return passQueue({ slots: () => runner.slots, size: (job) => job.images.length, maxImages, run, emptyAnswer: () => [], close: () => runner.close() });
}

export interface FaceEmbedderOptions {
  /** Most images one pass merges from concurrent requests. Default 8. */
  maxBatch?: number;
  /** Images per chunk of `embedAll` (one pass each). Default 8: chunks spread over the workers. */
  chunkSize?: number;
  /** Images `embedAll` decodes at once. Default 4. */
  decodeConcurrency?: number;
}

const faceModelOnly = (): never => {
  throw new Error('a face model embeds faces, not whole images: use embedder.faces (or embedAll, which takes the largest face)');
};

/**
 * An embedder for a face model. `embedAll` embeds the largest face of each image; images without
 * a face are `failed` (reason "no face found") and listed in `faces.none`; images with several are
 * listed in `faces.several` (their largest face is embedded).
 *
 * @example
 * const embedder = createFaceEmbedder(recipeFromCard(card), inThreadFaceRunner(pipeline, { owned: true }));
 * const [faces] = await embedder.faces.find([await embedder.faces.decode(bytes)]);
 */
export function createFaceEmbedder(recipe: EmbeddingRecipe, runner: FaceRunner, options: FaceEmbedderOptions = {}): Embedder & { faces: FaceSearch } {
  const queue = faceQueue(runner, options.maxBatch ?? 8);
  const chunkSize = options.chunkSize ?? 8;
  const decodeConcurrency = options.decodeConcurrency ?? 4;
  const { dim } = recipe;
  const faces: FaceSearch = { decode: decodeFaceImage, find: (images, faceOptions = {}) => queue.submit({ images, chips: faceOptions.chips ?? false }) };

  async function embedAll(inputs: readonly EmbedInput[], embedOptions: { onProgress?: (done: number, total: number) => void } = {}): Promise<EmbedAllResult> {
    const total = inputs.length;
    const vectors = new Float32Array(total * dim);
    const result: Required<EmbedAllResult> = { vectors, failed: [], faces: { none: [], several: [] } };
    let done = 0;
    const embedChunk = async (start: number, end: number): Promise<void> => {
      const decoded: { index: number; image: FaceImage }[] = [];
      let next = start;
      const decodeOne = async (): Promise<void> => {
        while (next < end) {
          const index = next++;
          try {
            decoded.push({ index, image: await decodeFaceImage(inputs[index]) });
          } catch (error) {
            result.failed.push({ index, reason: error instanceof Error ? error.message : String(error) });
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(decodeConcurrency, end - start) }, decodeOne));
      const found = await queue.submit({ images: decoded.map((d) => d.image), chips: false });
      decoded.forEach(({ index }, i) => {
        const list = found[i];
        if (list.length === 0) {
          result.faces.none.push(index);
          result.failed.push({ index, reason: 'no face found' });
          return;
        }
        if (list.length > 1) result.faces.several.push({ index, faces: list.length });
        vectors.set(list[0].vector, index * dim);
      });
      done += end - start;
      embedOptions.onProgress?.(done, total);
    };
    // One chunk per runner slot in flight, so every worker has work.
    const chunks: [number, number][] = [];
    for (let start = 0; start < total; start += chunkSize) chunks.push([start, Math.min(total, start + chunkSize)]);
    let nextChunk = 0;
    const lane = async (): Promise<void> => {
      while (nextChunk < chunks.length) {
        const [start, end] = chunks[nextChunk++];
        await embedChunk(start, end);
      }
    };
    const lanes = await Promise.allSettled(Array.from({ length: Math.max(1, runner.slots) }, lane));
    const failedLane = lanes.find((l) => l.status === 'rejected');
    if (failedLane) throw failedLane.reason;
    result.failed.sort((a, b) => a.index - b.index);
    result.faces.none.sort((a, b) => a - b);
    result.faces.several.sort((a, b) => a.index - b.index);
    return result;
  }

  return {
    recipe,
    prepare: faceModelOnly,
    embed: faceModelOnly,
    embedAll,
    faces,
    stats: () => queue.stats(),
    close: () => queue.close(),
  };
}
