/**
 * Verification and identification on a gallery of identities (typically ones the model never saw):
 * ROC-AUC, EER and TAR at fixed FARs over all same pairs and sampled different pairs, and
 * leave-one-out rank-1, P@1, R-precision and MAP@R (Musgrave et al. 2020).
 */
import type * as tf from '@tensorflow/tfjs';
import { loadImages, readGallery } from '../data/gallery.js';
import { createRng } from '../data/rng.js';
import { selectIdentities } from '../data/select.js';
import { IDENTITY_AFFINE, type Affine } from '../data/augment.js';
import { embedWithViews, flipViews, mirrorShiftViews, shiftViews } from './tta.js';
import type { ModelCard } from '../model/card.js';
import type { Embedder } from '../embedding/embedder.js';
import { relative } from 'node:path';
import { allPairs } from '../data/pairs.js';
import { auc, equalErrorRate, pairDistances, retrievalMetrics, rocCurve, thresholdAtFar, ratesAtThreshold, type PairDistances, type Roc } from '../metrics/index.js';
import { bootstrapEer, type EerInterval, type IdentityPairs } from './bootstrap.js';
import { errorsByIdentity, type IdentityErrors } from './identity-errors.js';

export interface VerifyResult {
  identities: number;
  images: number;
  pairs: { same: number; different: number };
  auc: number;
  eer: number;
  /** Where the EER of another panel of as many people would likely fall (identity bootstrap), when asked for. */
  eerInterval?: EerInterval;
  /** TAR at each FAR, keyed by the FAR as written (e.g. "0.001"). */
  tarAtFar: Record<string, number>;
  /** The model card's default threshold applied to these pairs. */
  atModelThreshold: { threshold: number; far: number; tar: number };
  /** Who the errors are at the EER threshold: each identity's false rejects and false accepts, in gallery order. */
  errorsAtEer: { threshold: number; identities: IdentityErrors[] };
  rank1: number;
  precisionAt1: number;
  rPrecision: number;
  mapAtR: number;
}

export interface VerifyOptions {
  fars?: number[];
  maxNegatives?: number;
  seed?: number;
  /** Identity-bootstrap resamples for `eerInterval` (0 or absent: none). */
  bootstrap?: number;
  /** Test-time augmentation: 'flip' averages the image and its left-right mirror, 'shift' one-pixel shifts, 'mirror' both (10 views). */
  tta?: 'none' | 'flip' | 'shift' | 'mirror';
  /** Evaluate only identities whose name matches (e.g. the unseen AT&T s31-s40). */
  include?: RegExp;
  exclude?: RegExp;
  onProgress?: (done: number, total: number) => void;
}

/** What `scoreVerification` reports: every `VerifyResult` score that needs no model card. */
export type VerificationScores = Omit<VerifyResult, 'identities' | 'images' | 'atModelThreshold' | 'errorsAtEer'>;

/**
 * The verification and retrieval scores of embeddings already computed, with the pairs and metrics of
 * `evaluateVerification` (so a baseline or an ensemble scored here is comparable with `npm run eval -- verify`).
 * Pure. Also returns the ROC, to read rates at other thresholds, and the threshold where the EER was met.
 *
 * @example
 * const { scores } = scoreVerification(vectors, 32, set.labels); // scores.eer, scores.rank1, ...
 */
export function scoreVerification(
  vectors: Float32Array,
  dim: number,
  labels: Int32Array,
  options: Pick<VerifyOptions, 'fars' | 'maxNegatives' | 'seed' | 'bootstrap'> = {},
): { scores: VerificationScores; roc: Roc; distances: PairDistances; eerThreshold: number } {
  const fars = options.fars ?? [1e-2, 1e-3];
  const distances = pairDistances(vectors, dim, labels, allPairs(labels, options.maxNegatives ?? 500_000, createRng(options.seed ?? 1)));
  const roc = rocCurve(distances.same, distances.different);
  const retrieval = retrievalMetrics(vectors, dim, labels, 'l2');
  const eer = equalErrorRate(roc);
  const scores: VerificationScores = {
    pairs: { same: distances.same.length, different: distances.different.length },
    auc: auc(roc),
    eer: eer.eer,
    ...(options.bootstrap ? { eerInterval: bootstrapEer(identityPairs(distances), { resamples: options.bootstrap, rng: createRng((options.seed ?? 1) + 1) }) } : {}),
    tarAtFar: Object.fromEntries(fars.map((far) => [String(far), thresholdAtFar(roc, far).tar])),
    rank1: retrieval.rank1,
    precisionAt1: retrieval.precisionAt1,
    rPrecision: retrieval.rPrecision,
    mapAtR: retrieval.mapAtR,
  };
  return { scores, roc, distances, eerThreshold: eer.threshold };
}

/** Same and different pairs as one list with their identities, as `bootstrapEer` takes them. */
function identityPairs(distances: PairDistances): IdentityPairs {
  const same = distances.same.length;
  const total = same + distances.different.length;
  const pairs: IdentityPairs = { distances: new Float64Array(total), identityA: new Int32Array(total), identityB: new Int32Array(total) };
  pairs.distances.set(distances.same);
  pairs.distances.set(distances.different, same);
  pairs.identityA.set(distances.sameLabels);
  pairs.identityB.set(distances.sameLabels);
  pairs.identityA.set(distances.differentLabels.a, same);
  pairs.identityB.set(distances.differentLabels.b, same);
  return pairs;
}

/** The views each `--tta` choice averages over, for an image of width x height. */
const TTA_VIEWS: Record<NonNullable<VerifyOptions['tta']>, (width: number, height: number) => Affine[]> = {
  none: () => [IDENTITY_AFFINE],
  flip: () => flipViews(),
  shift: shiftViews,
  mirror: mirrorShiftViews,
};

/**
 * @example
 * const result = await evaluateVerification(tower, card, '../shared/datasets/att-faces-test');
 * result.eer; // 0.02 = 2%
 */
export async function evaluateVerification(tower: tf.LayersModel, card: ModelCard, dataDir: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const gallery = selectIdentities(await readGallery(dataDir), { include: options.include, exclude: options.exclude });
  const set = await loadImages(gallery, card.preprocess, { onProgress: options.onProgress });
  const [h, w] = set.shape;
  const views = TTA_VIEWS[options.tta ?? 'none'](w, h);
  const vectors = await embedWithViews(tower, set.data, set.count, set.shape, card.tower, views);
  return verifyResult(vectors, card, set.labels, set.identities, options);
}

/** Every score of `VerifyResult` from embeddings already computed, with the card's own threshold applied. */
function verifyResult(vectors: Float32Array, card: ModelCard, labels: Int32Array, identities: string[], options: VerifyOptions): VerifyResult {
  const { scores, roc, distances, eerThreshold } = scoreVerification(vectors, card.embeddingSize, labels, options);
  const atModel = ratesAtThreshold(roc, card.thresholds.default);
  return {
    identities: identities.length,
    images: labels.length,
    ...scores,
    atModelThreshold: { threshold: card.thresholds.default, far: atModel.far, tar: atModel.tar },
    errorsAtEer: { threshold: eerThreshold, identities: errorsByIdentity(distances, identities, eerThreshold) },
  };
}

/**
 * `evaluateVerification` for a face model (a card with a face stage): each photo's largest face,
 * described as the server describes it (`embedder`, e.g. `openEmbedder(modelDir, { workers: 2 })`).
 * Photos without a face are left out and listed in `noFace`.
 *
 * @example
 * const embedder = await openEmbedder('models/faces', { workers: 2 });
 * const result = await evaluateFaceVerification(embedder, card, '../shared/datasets/att-faces', { include: /^s(3[1-9]|40)$/ });
 */
export async function evaluateFaceVerification(embedder: Pick<Embedder, 'embedAll'>, card: ModelCard, dataDir: string, options: VerifyOptions = {}): Promise<VerifyResult & { noFace: string[] }> {
  if (options.tta && options.tta !== 'none') throw new Error('--tta applies to trained towers, not to a face model (its face stage aligns each face)');
  const gallery = selectIdentities(await readGallery(dataDir), { include: options.include, exclude: options.exclude });
  const files = gallery.identities.flatMap((identity) => identity.files);
  const fileLabels = gallery.identities.flatMap((identity, label) => identity.files.map(() => label));
  const { vectors, failed } = await embedder.embedAll(files, { onProgress: options.onProgress });
  const left = new Set(failed.map((f) => f.index));
  const kept = files.map((_, i) => i).filter((i) => !left.has(i));
  const dim = card.embeddingSize;
  const keptVectors = new Float32Array(kept.length * dim);
  kept.forEach((i, row) => keptVectors.set(vectors.subarray(i * dim, (i + 1) * dim), row * dim));
  const result = verifyResult(keptVectors, card, Int32Array.from(kept, (i) => fileLabels[i]!), gallery.identities.map((g) => g.name), options);
  return { ...result, noFace: [...left].map((i) => relative(gallery.root, files[i]!)) };
}
