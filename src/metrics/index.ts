/**
 * Metrics of an embedding model, pure functions on plain arrays with no dependency on the rest of
 * twinsearch: verification on pair distances (ROC, AUC, EER, thresholds at a target FAR), retrieval
 * on labelled embeddings (rank-1, P@1, R-precision, MAP@R) and the pair distances both start from.
 * Training (validation, calibration) and evaluation import them from here.
 *
 * @example
 * import { allPairs } from '../data/pairs.js';
 * import { equalErrorRate, pairDistances, retrievalMetrics, rocCurve } from '../metrics/index.js';
 * const { same, different } = pairDistances(vectors, 64, labels, allPairs(labels, 200_000, rng));
 * const { eer } = equalErrorRate(rocCurve(same, different));
 * const { rank1, mapAtR } = retrievalMetrics(vectors, 64, labels, 'l2');
 */
export { auc, equalErrorRate, ratesAtThreshold, rocCurve, thresholdAtFar, type OperatingPoint, type Roc } from './roc.js';
export { retrievalMetrics, type RetrievalMetrics } from './retrieval.js';
export { pairDistances, type PairDistances } from './pair-distances.js';
