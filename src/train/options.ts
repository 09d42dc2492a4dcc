/**
 * Training options: every flag of `npm run train`, resolved to one plain object that is
 * stored in the checkpoint (so `--resume` continues the same run) and summarised in the model card.
 */
import type { LossName, PreprocessConfig, TowerConfig } from '../model/config.js';
import { DEFAULT_PREPROCESS, DEFAULT_TOWER } from '../model/config.js';
import type { BackendPreference } from '../model/backend.js';
import type { AffineRanges } from '../data/augment.js';

export interface TrainOptions {
  /** Gallery root: one folder per identity. */
  data: string;
  /** Regular expressions on identity names: train only on matching identities (e.g. AT&T s1-s30). */
  includeIdentities?: string;
  excludeIdentities?: string;
  /** Output model directory (model.json, weights.bin, model-card.json, plots, checkpoint/). */
  out: string;
  preprocess: PreprocessConfig;
  tower: TowerConfig;
  loss: LossName;
  /**
   * Margin of the contrastive, Euclidean and triplet losses (distance units of L2-normalised embeddings: 0..2),
   * or the cosine margin of the CosFace loss (see `COSFACE_DEFAULTS`).
   */
  margin: number;
  /** Logit scale: the N-pair loss's initial one (then learned), or the CosFace loss's fixed one. */
  scale: number;
  /** Images per training step: pairs x 2 for pair losses, P x K for triplet and CosFace, P x 2 for npair. */
  batchImages: number;
  /** K of the P x K batches used by the triplet and CosFace losses. */
  samplesPerIdentity: number;
  epochs: number;
  /** Steps in one epoch; 0 = enough steps to show every training image once on average. */
  stepsPerEpoch: number;
  learningRate: number;
  /**
   * Decoupled weight decay (AdamW, Loshchilov & Hutter 2019): after each step every conv / dense kernel
   * shrinks by `learningRate * weightDecay` of itself (biases are left alone). 0 = off.
   */
  weightDecay: number;
  /** Cosine decay of the learning rate to this fraction of its start over the run (1 = constant). */
  finalLearningRateFraction: number;
  /** Stop after this many minutes of training (0 = no limit); the learning-rate schedule then follows elapsed time. */
  timeLimitMinutes: number;
  valFraction: number;
  seed: number;
  backend?: BackendPreference;
  /** Worker threads computing gradients in parallel (each with its own tfjs); 0 = the main thread alone. */
  workers: number;
  /** Random affine distortions (Koch et al. 2015); null = off. */
  augment: AffineRanges | null;
  /** Treat each of the 4 right-angle rotations of an identity as its own identity (Omniglot practice). */
  rotateIdentities: boolean;
  /**
   * Draw each batch's identities from a few groups (the identity's parent folder, e.g. the Omniglot alphabet),
   * so negatives are as similar as the ones met at test time. 0 = off; n = draw from n groups per batch.
   */
  groupsPerBatch: number;
  /** Early stopping: epochs without improvement of the validation MAP@R before stopping (0 = off). */
  patience: number;
  /**
   * Which weights become the model: `best` = the epoch with the best validation MAP@R, `last` = the final
   * ones, `average` = the mean of the weights at the end of every epoch from `averageFrom` of the run on
   * (see `average.ts`). With only a few validation identities the "best" epoch is a noisy pick (AT&T faces: see docs/results.md).
   */
  keep: 'best' | 'last' | 'average';
  /**
   * With `keep: 'average'`: the fraction of the run (as the learning-rate schedule counts it) after which
   * epoch-end weights join the average. Earlier = more snapshots from farther apart (more of an ensemble,
   * but older, less trained weights); later = fewer, closer to the final weights.
   */
  averageFrom: number;
  /**
   * Centre the embeddings once training ends: the mean unit embedding of the training images becomes the
   * card's `tower.center`, subtracted wherever the model embeds (see src/train/center.ts). Costs one pass
   * over up to 10,000 training images; needs an L2-normalised tower. Absent = off.
   */
  center?: boolean;
  /** False-accept rates the pair calibration reports thresholds for (the first was the default before open-set calibration). */
  targetFars: number[];
  /**
   * The false-positive identification rate the default threshold is chosen at: the share of strangers
   * (held-out identities against a gallery of the others) a search may match to someone (see src/train/open-set.ts).
   */
  targetFpir: number;
  /** What to do with an unreadable image: skip it with a warning, or fail. */
  onUnreadable: 'skip' | 'fail';
  /** Cap on validation images embedded each epoch (they are sampled once, by identity). */
  maxValImages: number;
  /** Start from the weights of this model directory (same architecture and input shape): transfer learning. */
  initFrom?: string;
  /** Continue from out/checkpoint if it exists. */
  resume: boolean;
}

export const DEFAULT_TRAIN_OPTIONS: Omit<TrainOptions, 'data' | 'out'> = {
  preprocess: DEFAULT_PREPROCESS,
  tower: DEFAULT_TOWER,
  loss: 'contrastive',
  margin: 1,
  scale: 10,
  batchImages: 128,
  samplesPerIdentity: 4,
  epochs: 20,
  stepsPerEpoch: 0,
  learningRate: 1e-3,
  weightDecay: 0,
  finalLearningRateFraction: 0.05,
  timeLimitMinutes: 0,
  valFraction: 0.2,
  seed: 42,
  workers: -1,
  augment: null,
  rotateIdentities: false,
  groupsPerBatch: 0,
  patience: 5,
  keep: 'best',
  averageFrom: 0.75,
  targetFars: [1e-3, 1e-2],
  targetFpir: 0.01,
  onUnreadable: 'fail',
  maxValImages: 4000,
  resume: false,
};

/**
 * Margin and scale the CLI uses for `--loss cosface` when not given: a cosine margin of 0.2 and a
 * scale of 16. CosFace's 0.35 and 64 are for thousands of identities and 512-d embeddings; with tens
 * of identities a scale near 16 already lets the softmax reach a confident answer (NormFace's bound,
 * Wang et al. 2017). Measured on AT&T faces (3 folds of s1-s30, docs/results.md): with a 32-filter
 * tower 0.2 / 16 gave a mean EER of 6.0% against 8.4% for 0.35 / 30; with 16 filters 0.35 / 30 was
 * better (8.9% against 10.3%).
 */
export const COSFACE_DEFAULTS = { margin: 0.2, scale: 16 } as const;

/** Learning rate at a point of the run, `progress` in [0, 1]: cosine decay from `lr` to `lr * final`. */
export function learningRateAt(options: Pick<TrainOptions, 'learningRate' | 'finalLearningRateFraction'>, progress: number): number {
  const p = Math.min(1, Math.max(0, progress));
  const floor = options.finalLearningRateFraction;
  return options.learningRate * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * p)));
}
