/**
 * Scores embeddings of held-out identities each epoch: ROC-AUC and EER of their pair distances and
 * leave-one-out retrieval (rank-1, MAP@R). Pure; the caller embeds and picks the pairs.
 */
import { auc, equalErrorRate, retrievalMetrics, rocCurve, type PairDistances, type RetrievalMetrics } from '../metrics/index.js';

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
