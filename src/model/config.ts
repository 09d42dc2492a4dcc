/**
 * The model's configuration: what the tower looks like and how an image becomes its input.
 * It is written into model-card.json so training, indexing and serving preprocess identically.
 */

/** How an image file becomes the tower's input tensor (see src/data/preprocess.ts). */
export interface PreprocessConfig {
  /** Input width and height in pixels after resizing. */
  width: number;
  height: number;
  /** 1 = greyscale, 3 = RGB. */
  channels: 1 | 3;
  /** How the image is fitted to width x height: `fill` stretches, `contain` letterboxes, `cover` crops. */
  fit: 'fill' | 'contain' | 'cover';
  /** Invert intensities (1 - x) after scaling to [0, 1]; Omniglot's black strokes on white become bright strokes on black. */
  invert: boolean;
  /** Per-channel mean and standard deviation subtracted / divided after scaling (and inversion). */
  mean: number;
  std: number;
  /** Then standardise each image to zero mean and unit variance (evens out lighting; faces). Default false. */
  standardize?: boolean;
  /**
   * Keep only this region of the (EXIF-oriented) image before resizing, as fractions of its width and
   * height: e.g. the face without hair and background. Absent = the whole image.
   */
  crop?: CropRegion;
}

/** A region of an image as fractions of its width / height: left + width <= 1, top + height <= 1. */
export interface CropRegion {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Throws a RangeError unless `crop` lies inside the image (a tolerance of 1e-9 lets sums such as
 * 0.7 + 0.3 that round past 1 through).
 *
 * @example
 * checkCropRegion({ left: 0.1, top: 0.15, width: 0.8, height: 0.75 }); // fine
 */
export function checkCropRegion(crop: CropRegion): void {
  const { left, top, width, height } = crop;
  const eps = 1e-9;
  if (!(left >= 0 && top >= 0 && width > 0 && height > 0 && left + width <= 1 + eps && top + height <= 1 + eps)) {
    throw new RangeError(`preprocess: crop must lie inside the image (fractions, left + width <= 1, top + height <= 1), got ${JSON.stringify(crop)}`);
  }
}

export type TowerArch =
  /** Four conv3x3-ReLU-maxpool blocks and a dense projection: fast on CPU at 28x28 (the default). */
  | 'conv4'
  /** The original write-up's Keras tower: conv32-pool-conv64-pool-dense128-dense(embedding). */
  | 'writeup'
  /** Koch et al. 2015's convolutional Siamese tower (10x10-64, 7x7-128, 4x4-128, 4x4-256, dense 4096), meant for 105x105. */
  | 'koch';

export interface TowerConfig {
  arch: TowerArch;
  /** Embedding size (the output dimension). */
  embeddingSize: number;
  /** Filters of the first conv layer (later layers scale from it where the arch does). */
  filters: number;
  /** L2-normalise embeddings (outside the saved model, see src/model/embed.ts). */
  l2Normalize: boolean;
  /**
   * Embed every image as the mean of its and its left-right mirror's embeddings (outside the saved
   * model, see src/model/embed.ts): twice the embedding cost, a mirror-invariant embedding. For faces
   * and products, not characters. Absent = off.
   */
  flipAverage?: boolean;
  /**
   * Subtracted from every unit embedding (after mirror averaging), which is then normalised again:
   * the mean embedding of the training images, measured by `--center` once training ends. It removes
   * the direction every image shares, so distances weigh what tells identities apart
   * (Garcia-Romero & Espy-Wilson 2011's "length normalisation"). Needs `l2Normalize`. Absent = off.
   */
  center?: number[];
}

export type LossName =
  /** Hadsell, Chopra & LeCun 2006: same * d^2 + (1 - same) * max(0, margin - d)^2, halved. */
  | 'contrastive'
  /** The write-up's plain Euclidean pair loss: d regressed to 0 for same pairs and to `margin` for different pairs, no hinge. */
  | 'euclidean'
  /** Triplet loss with batch-hard mining (Hermans et al. 2017) over P x K batches. */
  | 'triplet'
  /** N-pair / softmax loss over scaled cosine similarities within a P x 2 batch (Sohn 2016). */
  | 'npair'
  /** Large-margin cosine softmax over one learned proxy per training identity (CosFace, Wang et al. 2018). */
  | 'cosface';

/** Distance between two embeddings as the model card records it. */
export type Metric = 'l2' | 'cosine';

export const DEFAULT_PREPROCESS: PreprocessConfig = {
  width: 28,
  height: 28,
  channels: 1,
  fit: 'fill',
  invert: false,
  mean: 0,
  std: 1,
};

export const DEFAULT_TOWER: TowerConfig = {
  arch: 'conv4',
  embeddingSize: 64,
  filters: 64,
  l2Normalize: true,
};
