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
  /** Early stopping: epochs without improvement of the validation MAP@R before stopping (0 = off). */
  patience: number;
  /**
   * Which weights become the model: `best` = the epoch with the best validation MAP@R, `last` = the final
   * ones. With only a few validation identities the "best" epoch is a noisy pick (AT&T faces: see docs/results.md).
   */
  keepWeights: 'best' | 'last';
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
  /** What to do with images that cannot be used (all are checked first): leave them out with a warning, or fail listing them. */
  onUnreadable: 'skip' | 'fail';
  /** Cap on an image's decoded pixels (width x height); absent = `DEFAULT_LIMIT_INPUT_PIXELS` (src/data/preprocess.ts). */
  maxInputPixels?: number;
  /** Cap on validation images embedded each epoch (they are sampled once, by identity). */
  maxValImages: number;
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
  finalLearningRateFraction: 0.05,
  timeLimitMinutes: 0,
  valFraction: 0.2,
  seed: 42,
  workers: -1,
  augment: null,
  rotateIdentities: false,
  patience: 5,
  keepWeights: 'best',
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

/**
 * The options a checkpoint was written with, as this version runs them. Checkpoints of earlier versions
 * name the weight policy `keep` (now `keepWeights`) and may carry options that were since removed: at
 * their off values they are dropped; a run that used one is refused, since resuming without it would
 * not be the same run.
 *
 * @throws Error naming the option, e.g. "weight averaging (keep: 'average')"
 * @example
 * const options = optionsFromCheckpoint(checkpoint.state.options);
 */
export function optionsFromCheckpoint(saved: unknown): TrainOptions {
  const options = saved as Record<string, unknown>;
  const { keep, weightDecay, groupsPerBatch } = options;
  const tower = options.tower as Record<string, unknown>;
  const augment = options.augment as Record<string, unknown> | null;
  const removed: Array<[boolean, string]> = [
    [keep === 'average', "weight averaging (keep: 'average')"],
    [typeof weightDecay === 'number' && weightDecay > 0, `weight decay (weightDecay: ${String(weightDecay)})`],
    [typeof groupsPerBatch === 'number' && groupsPerBatch > 0, `batches drawn from a few folders (groupsPerBatch: ${String(groupsPerBatch)})`],
    [tower.head !== undefined && tower.head !== 'flatten', `the ${String(tower.head)} head (tower.head)`],
    [typeof tower.dropout === 'number' && tower.dropout > 0, `dropout (tower.dropout: ${String(tower.dropout)})`],
    [!!augment?.photometric, 'lighting augmentation (augment.photometric)'],
    [!!augment?.erase, 'random erasing (augment.erase)'],
    [!!augment?.isotropic, 'zoom augmentation (augment.isotropic)'],
  ];
  const unsupported = removed.filter(([used]) => used).map(([, what]) => what);
  if (unsupported.length) {
    throw new Error(`This checkpoint's run uses ${unsupported.join(', ')}, which this version of twinsearch no longer has: it cannot be resumed; start the run again without --resume`);
  }
  // initFrom only seeded the first step (those weights are in the checkpoint); averageFrom meant nothing without keep 'average'.
  return {
    ...(withoutKeys(options, ['keep', 'weightDecay', 'groupsPerBatch', 'averageFrom', 'initFrom']) as unknown as TrainOptions),
    tower: withoutKeys(tower, ['head', 'dropout']) as unknown as TowerConfig,
    augment: augment && (withoutKeys(augment, ['isotropic']) as unknown as AffineRanges),
    keepWeights: (options.keepWeights ?? keep ?? DEFAULT_TRAIN_OPTIONS.keepWeights) as TrainOptions['keepWeights'],
  };
}

/** A copy of an object without some keys. */
function withoutKeys(value: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([k]) => !keys.includes(k)));
}
