/**
 * Test-time augmentation: an image's embedding as the normalised mean of the embeddings of a few
 * slightly shifted views of it. Smooths out the tower's sensitivity to one-pixel misalignment.
 */
import type * as tf from '@tensorflow/tfjs';
import type { TowerConfig } from '../model/config.js';
import { IDENTITY_AFFINE, borderMean, warpAffine, type Affine } from '../data/augment.js';
import { embedImageSetAsync, l2NormalizeVector } from '../model/embed.js';

/** The identity view plus one-pixel shifts left, right, up and down. */
export function shiftViews(width: number, height: number): Affine[] {
  const dx = 1 / width;
  const dy = 1 / height;
  return [
    IDENTITY_AFFINE,
    { ...IDENTITY_AFFINE, shiftX: dx },
    { ...IDENTITY_AFFINE, shiftX: -dx },
    { ...IDENTITY_AFFINE, shiftY: dy },
    { ...IDENTITY_AFFINE, shiftY: -dy },
  ];
}

/** The image and its left-right mirror: for faces and products (not for characters). */
export function flipViews(): Affine[] {
  return [IDENTITY_AFFINE, { ...IDENTITY_AFFINE, scaleX: -1 }];
}

/** `shiftViews` plus the left-right mirror of each: for faces and products (not for characters). */
export function mirrorShiftViews(width: number, height: number): Affine[] {
  const shifts = shiftViews(width, height);
  return [...shifts, ...shifts.map((v) => ({ ...v, scaleX: -v.scaleX }))];
}

/**
 * Embeds `count` NHWC images as the mean over `views` (then L2-normalised when the tower's
 * `l2Normalize`); each view embeds as the model would serve it (with `flipAverage`, with its mirror;
 * with `center`, centred).
 *
 * @example
 * const vectors = await embedWithViews(tower, data, 20, [28, 28, 1], card.tower, shiftViews(28, 28));
 */
export async function embedWithViews(
  tower: tf.LayersModel,
  data: Float32Array,
  count: number,
  shape: [number, number, number],
  settings: Pick<TowerConfig, 'l2Normalize' | 'flipAverage' | 'center'>,
  views: Affine[],
): Promise<Float32Array> {
  const { l2Normalize, flipAverage, center } = settings;
  const [h, w, c] = shape;
  const size = h * w * c;
  let sum: Float32Array | undefined;
  for (const view of views) {
    const warped = new Float32Array(count * size);
    for (let i = 0; i < count; i++) {
      const image = data.subarray(i * size, (i + 1) * size);
      warped.set(view === IDENTITY_AFFINE ? image : warpAffine(image, w, h, c, view, borderMean(image, w, h, c)), i * size);
    }
    const vectors = await embedImageSetAsync(tower, warped, count, shape, { l2Normalize, flipAverage, center, batchSize: 64 });
    if (!sum) sum = vectors;
    else for (let k = 0; k < sum.length; k++) sum[k]! += vectors[k]!;
  }
  if (!sum || !l2Normalize) return sum ?? new Float32Array(0);
  const dim = sum.length / Math.max(1, count);
  for (let i = 0; i < count; i++) sum.set(l2NormalizeVector(sum.subarray(i * dim, (i + 1) * dim)), i * dim);
  return sum;
}
