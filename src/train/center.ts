/**
 * Embedding centring (`--center`): once training ends, the mean unit embedding of the training
 * images is measured and stored in the model card (`tower.center`); every embedding is then that
 * unit vector minus the mean, normalised again (src/model/embed.ts). A tower trained on few
 * identities maps every new image into a narrow cone around one shared direction; removing it
 * leaves the directions that tell identities apart (Garcia-Romero & Espy-Wilson 2011 call the
 * recipe "length normalisation"; speaker verification centres i-vectors the same way).
 */
import type * as tf from '@tensorflow/tfjs';
import { gatherImages, imagesOfIdentities } from '../data/select.js';
import { embedImageSetAsync, type EmbedSettings } from '../model/embed.js';

/** At most this many images are averaged (evenly spaced): enough for a mean of tens of dimensions, and bounded time. */
export const MAX_CENTER_IMAGES = 10_000;

/**
 * Which images the mean is taken over: those whose label is in `identities`, evenly thinned to `cap`.
 *
 * @example
 * centerSample(new Int32Array([0, 0, 1, 2]), [0, 2]); // [0, 1, 3]
 */
export function centerSample(labels: Int32Array, identities: readonly number[], cap = MAX_CENTER_IMAGES): number[] {
  const all = imagesOfIdentities(labels, identities);
  if (all.length <= cap) return all;
  return Array.from({ length: cap }, (_, k) => all[Math.floor((k * all.length) / cap)]!);
}

export interface MeanEmbeddingOptions {
  /** Images gathered and embedded at a time (bounds the copy of their pixels). Default 512. */
  chunk?: number;
  /** Images per forward pass. Default 128. */
  batchSize?: number;
}

/**
 * The mean of the unit embeddings of the images at `indices` in `data` (NHWC, back to back),
 * embedded with `settings` (which must not centre already). Accumulated in float64.
 *
 * @example
 * const center = await meanEmbedding(tower, set.data, set.shape, trainIndices, { l2Normalize: true });
 * const e = embed(tower, x, { l2Normalize: true, center }); // centred unit embeddings
 */
export async function meanEmbedding(
  tower: tf.LayersModel,
  data: Float32Array,
  shape: [number, number, number],
  indices: readonly number[],
  settings: EmbedSettings,
  options: MeanEmbeddingOptions = {},
): Promise<number[]> {
  if (!settings.l2Normalize) throw new Error('centring needs l2Normalize: the centre is the mean of unit embeddings');
  if (settings.center) throw new Error('the embeddings to average must not be centred already');
  if (indices.length === 0) throw new Error('no images to take the mean embedding of');
  const chunk = options.chunk ?? 512;
  const imageSize = shape[0] * shape[1] * shape[2];
  let sum: Float64Array | undefined;
  for (let start = 0; start < indices.length; start += chunk) {
    const part = indices.slice(start, start + chunk);
    const count = part.length;
    const pixels = gatherImages(data, imageSize, part);
    const vectors = await embedImageSetAsync(tower, pixels, count, shape, { ...settings, batchSize: options.batchSize ?? 128 });
    const dim = vectors.length / count;
    sum ??= new Float64Array(dim);
    for (let k = 0; k < vectors.length; k++) sum[k % dim]! += vectors[k]!;
  }
  return Array.from(sum!, (v) => v / indices.length);
}
