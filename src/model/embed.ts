/**
 * Embedding images with a tower, tensor-clean, plus pure distance helpers for stored vectors.
 * Training, indexing and serving all embed through here, so they normalise identically.
 */
import * as tf from '@tensorflow/tfjs';
import type { Metric } from './config.js';

/** Floor under the squared norm so an all-zero embedding normalises to zeros instead of NaN. */
export const L2_EPSILON = 1e-12;

/**
 * Divides each row by its L2 norm (differentiable; safe for zero rows).
 *
 * @example
 * l2NormalizeRows(tf.tensor2d([[3, 4]])); // [[0.6, 0.8]]
 */
export function l2NormalizeRows(x: tf.Tensor2D, epsilon = L2_EPSILON): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.maximum(tf.sum(tf.square(x), 1, true), epsilon))));
}

/** How a tower's outputs become embeddings: the model card's `tower` settings that act outside the saved model. */
export interface EmbedSettings {
  /** Scale each embedding to unit length. */
  l2Normalize: boolean;
  /** Average each image's embedding with its left-right mirror's (see {@link embed}). */
  flipAverage?: boolean;
  /** Subtract this vector from each unit embedding and normalise again (the card's `tower.center`; needs `l2Normalize`). */
  center?: ArrayLike<number>;
}

/**
 * Embeds a batch of NHWC images (inference mode), optionally L2-normalised. The caller owns the result.
 * With `flipAverage` each image's embedding is the mean of its own and its left-right mirror's
 * (each normalised first when `l2Normalize`), so an image and its mirror embed identically — the
 * model card's `tower.flipAverage`, for faces and products. With `center`, that unit embedding
 * minus `center`, normalised again (the card's `tower.center`).
 *
 * @example
 * const e = embed(tower, tf.zeros([8, 28, 28, 1]), { l2Normalize: true }); // [8, 64], unit rows
 * e.dispose();
 */
export function embed(tower: tf.LayersModel, x: tf.Tensor4D, settings: EmbedSettings): tf.Tensor2D {
  const { l2Normalize, flipAverage = false, center } = settings;
  if (center && !l2Normalize) throw new Error('center needs l2Normalize: it is subtracted from unit embeddings');
  return tf.tidy(() => {
    let unit: tf.Tensor2D;
    if (!flipAverage) {
      const out = tower.apply(x, { training: false }) as tf.Tensor2D;
      if (!l2Normalize) return out;
      unit = l2NormalizeRows(out);
    } else {
      // One forward pass over both views (NHWC: axis 2 is the width).
      const n = x.shape[0];
      const both = tower.apply(tf.concat([x, tf.reverse(x, 2)], 0), { training: false }) as tf.Tensor2D;
      const [own, mirrored] = tf.split(both, [n, n], 0) as [tf.Tensor2D, tf.Tensor2D];
      if (!l2Normalize) return tf.mul(tf.add(own, mirrored), 0.5);
      unit = l2NormalizeRows(tf.add(l2NormalizeRows(own), l2NormalizeRows(mirrored)));
    }
    return center ? l2NormalizeRows(tf.sub(unit, tf.tensor1d(Float32Array.from(center)))) : unit;
  });
}

export interface EmbedImageSetOptions extends EmbedSettings {
  /** Images per forward pass. Default 64. */
  batchSize?: number;
  /** Called after every batch with the number of images embedded so far. */
  onProgress?: (done: number, total: number) => void;
}

/** The tower's embedding size, read from its output shape. */
export function embeddingSizeOf(tower: tf.LayersModel): number {
  const shape = tower.outputs[0].shape;
  const size = shape[shape.length - 1];
  if (shape.length !== 2 || typeof size !== 'number') throw new Error(`Tower output shape ${JSON.stringify(shape)} is not [batch, embedding]`);
  return size;
}

interface Plan {
  count: number;
  shape: [number, number, number];
  imageSize: number;
  dim: number;
  batchSize: number;
  out: Float32Array;
}

function plan(tower: tf.LayersModel, data: Float32Array, count: number, shape: [number, number, number], batchSize: number): Plan {
  const imageSize = shape[0] * shape[1] * shape[2];
  if (!Number.isInteger(count) || count < 0) throw new Error(`count must be a non-negative integer, got ${count}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
  if (data.length < count * imageSize) throw new Error(`data holds ${data.length} floats, fewer than ${count} images of ${shape.join('x')}`);
  const expected = tower.inputs[0].shape.slice(1);
  if (expected.some((d, i) => d !== null && d !== shape[i])) {
    throw new Error(`Image shape ${shape.join('x')} does not match the tower's input ${expected.join('x')}`);
  }
  const dim = embeddingSizeOf(tower);
  return { count, shape, imageSize, dim, batchSize, out: new Float32Array(count * dim) };
}

/** Embeds images [start, end) and returns the (undisposed) result tensor. */
function embedBatch(tower: tf.LayersModel, data: Float32Array, p: Plan, start: number, end: number, options: EmbedImageSetOptions): tf.Tensor2D {
  return tf.tidy(() => {
    const x = tf.tensor4d(data.subarray(start * p.imageSize, end * p.imageSize), [end - start, ...p.shape]);
    return embed(tower, x, options);
  });
}

/**
 * Embeds `count` NHWC images stored back to back in `data`, in batches, and returns the
 * embeddings row by row (`count * embeddingSize` floats). Each batch is read outside `tf.tidy`
 * (tidy scans returned typed arrays element by element) and disposed before the next.
 *
 * @example
 * const vectors = embedImageSet(tower, set.images, set.count, [28, 28, 1], { l2Normalize: true });
 * const first = vectors.subarray(0, 64);
 */
export function embedImageSet(tower: tf.LayersModel, data: Float32Array, count: number, shape: [number, number, number], options: EmbedImageSetOptions): Float32Array {
  const p = plan(tower, data, count, shape, options.batchSize ?? 64);
  for (let start = 0; start < count; start += p.batchSize) {
    const end = Math.min(count, start + p.batchSize);
    const e = embedBatch(tower, data, p, start, end, options);
    try {
      p.out.set(e.dataSync() as Float32Array, start * p.dim);
    } finally {
      e.dispose();
    }
    options.onProgress?.(end, count);
  }
  return p.out;
}

/**
 * Like {@link embedImageSet}, but awaits each batch's data and yields to the event loop between
 * batches, so a server stays responsive while it embeds a large gallery.
 *
 * @example
 * const vectors = await embedImageSetAsync(tower, set.images, set.count, [28, 28, 1], { l2Normalize: true, batchSize: 128 });
 */
export async function embedImageSetAsync(tower: tf.LayersModel, data: Float32Array, count: number, shape: [number, number, number], options: EmbedImageSetOptions): Promise<Float32Array> {
  const p = plan(tower, data, count, shape, options.batchSize ?? 64);
  for (let start = 0; start < count; start += p.batchSize) {
    const end = Math.min(count, start + p.batchSize);
    const e = embedBatch(tower, data, p, start, end, options);
    try {
      p.out.set((await e.data()) as Float32Array, start * p.dim);
    } finally {
      e.dispose();
    }
    options.onProgress?.(end, count);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return p.out;
}

// ---- Pure helpers on stored vectors (no tensors) ----

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`Vectors differ in length: ${a.length} vs ${b.length}`);
}

/** Dot product of two equal-length vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i] * b[i];
  return sum;
}

/** Euclidean norm of a vector. */
export function l2Norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Squared Euclidean distance (no square root; ranks like {@link l2Distance}). */
export function squaredL2Distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b);
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

/**
 * Euclidean distance between two stored embeddings.
 *
 * @example
 * l2Distance(new Float32Array([0, 0]), new Float32Array([3, 4])); // 5
 */
export function l2Distance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return Math.sqrt(squaredL2Distance(a, b));
}

/**
 * Cosine distance 1 - cos(a, b), in [0, 2]; 1 when either vector is zero.
 * For unit vectors it equals l2Distance^2 / 2.
 *
 * @example
 * cosineDistance([1, 0], [0, 1]); // 1
 */
export function cosineDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const denominator = l2Norm(a) * l2Norm(b);
  if (denominator === 0) return 1;
  return 1 - dot(a, b) / denominator;
}

/** The distance a model card's `metric` names: Euclidean (`l2`) or 1 - cosine (`cosine`). */
export function distance(metric: Metric, a: ArrayLike<number>, b: ArrayLike<number>): number {
  return metric === 'l2' ? l2Distance(a, b) : cosineDistance(a, b);
}

/** A unit-length copy of a vector (a zero vector stays zero). */
export function l2NormalizeVector(a: ArrayLike<number>): Float32Array {
  const norm = l2Norm(a);
  const out = Float32Array.from(a);
  if (norm > 0) for (let i = 0; i < out.length; i++) out[i] /= norm;
  return out;
}
