/**
 * From the embeddings of held-out identities to the model card's `thresholds` and `validation`: the
 * pair calibration (EER, thresholds at target FARs), the open-set calibration (FPIR / TIR, the
 * default threshold) and the held-out scores. Shared by every way a model is made (a trained tower,
 * a pretrained one), so their cards say the same things the same way. Pure.
 */
import type { ModelCard } from '../model/card.js';
import { calibrate, type Calibration } from './calibrate.js';
import { calibrateOpenSet, defaultDecision, openSetTrials, type OpenSetPoint } from './open-set.js';
import type { PairDistances } from '../metrics/index.js';
import type { ValidationScores } from './validate.js';

export interface HeldOutCalibration {
  calibration: Calibration;
  openSet: OpenSetPoint;
  thresholds: ModelCard['thresholds'];
  validation: ModelCard['validation'];
}

/**
 * @example
 * const distances = pairDistances(vectors, dim, labels, allPairs(labels, 200_000, createRng(1)));
 * const { thresholds, validation } = calibrateHeldOut(vectors, dim, labels, distances, scoreEmbeddings(vectors, dim, labels, distances), { targetFars: [1e-3, 1e-2], targetFpir: 0.01 });
 */
export function calibrateHeldOut(
  vectors: Float32Array,
  dim: number,
  labels: Int32Array,
  distances: PairDistances,
  scores: ValidationScores,
  options: { targetFars: number[]; targetFpir: number },
): HeldOutCalibration {
  const calibration = calibrate(distances.same, distances.different, { targetFars: options.targetFars, defaultFar: options.targetFars[0] });
  const openSet = calibrateOpenSet(openSetTrials(vectors, dim, labels), options.targetFpir);
  const decision = defaultDecision(calibration, openSet);
  return {
    calibration,
    openSet,
    thresholds: {
      eer: { threshold: calibration.eer.threshold, far: calibration.eer.far, tar: calibration.eer.tar },
      atFar: calibration.atFar.map((p) => ({ targetFar: p.targetFar, threshold: p.threshold, far: p.far, tar: p.tar })),
      default: decision.threshold,
      defaultSource: decision.source,
      openSet,
    },
    validation: {
      auc: calibration.auc,
      eer: calibration.eer.rate,
      rank1: scores.rank1,
      precisionAt1: scores.precisionAt1,
      mapAtR: scores.mapAtR,
      rPrecision: scores.rPrecision,
      samePairs: calibration.pairs.same,
      differentPairs: calibration.pairs.different,
    },
  };
}
