/**
 * Scores embeddings of held-out identities: distances of same / different pairs (for ROC, EER and
 * threshold calibration) and leave-one-out retrieval (rank-1, MAP@R). Pure; the caller embeds.
 */
import type { Rng } from '../data/rng.js';
import { allPairs } from '../data/pairs.js';
import { l2Distance } from '../model/embed.js';
import { auc, equalErrorRate, retrievalMetrics, rocCurve, type RetrievalMetrics } from './metrics.js';

export interface PairDistances {
  same: Float64Array;
  different: Float64Array;
  /** The identity (label) of each same pair, and the two identities of each different pair: for resampling by identity. */
  sameLabels: Int32Array;
  differentLabels: { a: Int32Array; b: Int32Array };
}

/**
 * Distances of every same-identity pair and of up to `maxNegatives` random different-identity pairs.
 *
 * @example
 * const { same, different } = pairDistances(vectors, 64, labels, createRng(1), 200_000);
 */
export function pairDistances(vectors: Float32Array, dim: number, labels: Int32Array, rng: Rng, maxNegatives: number): PairDistances {
  const pairs = allPairs(labels, maxNegatives, rng);
  const same: number[] = [];
  const different: number[] = [];
  const sameLabels: number[] = [];
  const differentA: number[] = [];
  const differentB: number[] = [];
  pairs.a.forEach((i, k) => {
    const j = pairs.b[k]!;
    const d = l2Distance(vectors.subarray(i * dim, (i + 1) * dim), vectors.subarray(j * dim, (j + 1) * dim));
    if (pairs.same[k]) {
      same.push(d);
      sameLabels.push(labels[i]!);
    } else {
      different.push(d);
      differentA.push(labels[i]!);
      differentB.push(labels[j]!);
    }
  });
  return {
    same: Float64Array.from(same),
    different: Float64Array.from(different),
    sameLabels: Int32Array.from(sameLabels),
    differentLabels: { a: Int32Array.from(differentA), b: Int32Array.from(differentB) },
  };
}

export interface ValidationScores extends RetrievalMetrics {
  auc: number;
  eer: number;
  pairs: { same: number; different: number };
}

/** ROC-AUC, EER and retrieval metrics of a labelled embedding set. */
export function scoreEmbeddings(vectors: Float32Array, dim: number, labels: Int32Array, distances: PairDistances): ValidationScores {
  const roc = rocCurve(distances.same, distances.different);
  return {
    ...retrievalMetrics(vectors, dim, labels, 'l2'),
    auc: auc(roc),
    eer: equalErrorRate(roc).eer,
    pairs: { same: distances.same.length, different: distances.different.length },
  };
}
