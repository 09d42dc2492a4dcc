/**
 * Verification threshold calibration: from the distances of same-identity and different-identity
 * pairs, the thresholds at the equal error rate and at target false-accept rates, each with the FAR
 * and TAR measured there, plus a FaceNet-style k-fold estimate of VAL@FAR on held-out pairs.
 */
import { auc, equalErrorRate, ratesAtThreshold, rocCurve, thresholdAtFar } from '../metrics/index.js';

export interface CalibrationOptions {
  /** FARs to report thresholds for. Default [1e-2, 1e-3]. */
  targetFars?: number[];
  /** FAR the default threshold is chosen at, when the pairs can resolve it. Default 1e-3. */
  defaultFar?: number;
}

export interface FarOperatingPoint {
  targetFar: number;
  threshold: number;
  /** Measured on the calibration pairs; never above targetFar. */
  far: number;
  tar: number;
  /** Whether targetFar >= 1 / (different pairs): below that only FAR 0 can be measured. */
  resolvable: boolean;
}

export interface Calibration {
  auc: number;
  /** The equal error rate, its threshold, and the FAR / TAR measured when accepting at that threshold. */
  eer: { rate: number; threshold: number; far: number; tar: number };
  atFar: FarOperatingPoint[];
  /**
   * The threshold to serve with and where it came from: `basis` 'far' when picked at the requested
   * default FAR `far`, 'eer' when too few different pairs resolve it; `source` says the same in a
   * short string for the model card ("far=0.001" or "eer (...)"). `describeDefaultThreshold` words it.
   */
  default: { threshold: number; source: string; basis: 'far' | 'eer'; far: number };
  pairs: { same: number; different: number };
  distanceStats: {
    same: { mean: number; p50: number; p95: number };
    different: { mean: number; p05: number; p50: number };
  };
}

/** Anything with `next()` in [0, 1), such as `createRng(seed)` from src/data/rng.ts. */
export interface RandomSource {
  next(): number;
}

/**
 * The q-quantile of ascending values, linearly interpolated between order statistics
 * (the "type 7" definition of R and NumPy's default).
 *
 * @example
 * quantile(Float64Array.from([1, 2, 3, 4]), 0.5); // 2.5
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no values');
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}

function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/** Sample standard deviation (n - 1); 0 for a single value. */
function standardDeviation(values: number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1));
}

/**
 * Calibrate the verification threshold on labelled pairs (accept as "same" when distance <= threshold).
 * The default threshold is the one at `defaultFar` when the pairs can resolve it (defaultFar >= 1 /
 * different pairs), otherwise the EER threshold; `default.source` says which.
 *
 * @example
 * const calibration = calibrate(sameDistances, diffDistances, { targetFars: [1e-2, 1e-3] });
 * calibration.default; // { threshold: 0.83, source: 'far=0.001' }
 */
export function calibrate(
  sameDistances: ArrayLike<number>,
  diffDistances: ArrayLike<number>,
  options: CalibrationOptions = {},
): Calibration {
  const targetFars = options.targetFars ?? [1e-2, 1e-3];
  const defaultFar = options.defaultFar ?? 1e-3;
  const roc = rocCurve(sameDistances, diffDistances);
  const negatives = diffDistances.length;
  const resolvable = (far: number): boolean => far >= 1 / negatives;

  const eer = equalErrorRate(roc);
  const atEer = ratesAtThreshold(roc, eer.threshold);
  const atFar = targetFars.map((targetFar) => ({
    targetFar,
    ...thresholdAtFar(roc, targetFar),
    resolvable: resolvable(targetFar),
  }));

  const defaultPoint: Calibration['default'] = resolvable(defaultFar)
    ? { threshold: thresholdAtFar(roc, defaultFar).threshold, source: `far=${defaultFar}`, basis: 'far', far: defaultFar }
    : {
        threshold: eer.threshold,
        source: `eer (far=${defaultFar} needs at least ${pairsToResolve(defaultFar)} different pairs, got ${negatives})`,
        basis: 'eer',
        far: defaultFar,
      };

  const same = Float64Array.from(sameDistances).sort();
  const different = Float64Array.from(diffDistances).sort();
  return {
    auc: auc(roc),
    eer: { rate: eer.eer, threshold: eer.threshold, far: atEer.far, tar: atEer.tar },
    atFar,
    default: defaultPoint,
    pairs: { same: same.length, different: different.length },
    distanceStats: {
      same: { mean: mean(same), p50: quantile(same, 0.5), p95: quantile(same, 0.95) },
      different: { mean: mean(different), p05: quantile(different, 0.05), p50: quantile(different, 0.5) },
    },
  };
}

/** Different pairs needed to measure a FAR: 1 / FAR (one false accept is then a rate of FAR). */
function pairsToResolve(far: number): number {
  return Math.ceil(1 / far);
}

/** A rate as the model card's readers see it: "95.8%", two decimals below 1% ("0.82%"). */
export function formatRate(rate: number): string {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)}%`;
}

/** The smallest FAR of the 1-2-5 series that `pairs` different pairs can measure. */
function smallestResolvableFar(pairs: number): number {
  for (let exponent = -9; exponent < 0; exponent++) {
    for (const mantissa of [1, 2, 5]) {
      const far = Number((mantissa * 10 ** exponent).toPrecision(1));
      if (far >= 1 / pairs) return far; // the test calibrate's `resolvable` makes
    }
  }
  return 1;
}

/**
 * In words: which default threshold the calibration picked, what it accepts on the held-out
 * identities, and, when it fell back to the equal error rate, why and what would change that.
 *
 * @example
 * describeDefaultThreshold(calibrate(same, different));
 * // 'threshold 0.5423 at the equal error rate (EER 4.2%; there it accepts 4.1% of different pairs and 95.8% of same pairs):
 * //  too few different pairs (486) to calibrate FAR 0.001 (needs 1000); add identities, or hold more out with --val-fraction, or ask for FAR 0.005 or higher with --target-far'
 */
export function describeDefaultThreshold(calibration: Calibration): string {
  const { default: chosen, pairs } = calibration;
  const threshold = `threshold ${chosen.threshold.toFixed(4)}`;
  if (chosen.basis === 'far') {
    const point = calibration.atFar.find((p) => p.targetFar === chosen.far) ?? { far: NaN, tar: NaN };
    return (
      `${threshold} at the requested FAR ${chosen.far}: on held-out identities it accepts ${formatRate(point.far)} of different pairs (of ${pairs.different}) ` +
      `and ${formatRate(point.tar)} of same pairs (of ${pairs.same})`
    );
  }
  const { eer } = calibration;
  return (
    `${threshold} at the equal error rate (EER ${formatRate(eer.rate)}; there it accepts ${formatRate(eer.far)} of different pairs and ${formatRate(eer.tar)} of same pairs): ` +
    `too few different pairs (${pairs.different}) to calibrate FAR ${chosen.far} (needs ${pairsToResolve(chosen.far)}); ` +
    `add identities, or hold more out with --val-fraction, or ask for FAR ${smallestResolvableFar(pairs.different)} or higher with --target-far`
  );
}

export interface KFoldResult {
  k: number;
  targetFar: number;
  /** Per fold: the threshold chosen on the other k-1 folds and the rates measured on it and on the held-out fold. */
  folds: Array<{ threshold: number; trainFar: number; trainTar: number; far: number; tar: number }>;
  /** Held-out TAR (the validation rate VAL@FAR): mean and sample standard deviation over folds. */
  tar: { mean: number; std: number };
  /** Held-out FAR: mean and sample standard deviation over folds (it may exceed the target: that is the point). */
  far: { mean: number; std: number };
  threshold: { mean: number; std: number };
}

/** Fold index of every item: round-robin (i % k), after an optional shuffle of the order. */
function foldAssignment(count: number, k: number, rng?: RandomSource): Int32Array {
  const order = Int32Array.from({ length: count }, (_, i) => i);
  if (rng) {
    for (let i = count - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  }
  const folds = new Int32Array(count);
  order.forEach((item, position) => {
    folds[item] = position % k;
  });
  return folds;
}

function split(values: ArrayLike<number>, folds: Int32Array, fold: number): { train: number[]; test: number[] } {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < values.length; i++) (folds[i] === fold ? test : train).push(values[i]);
  return { train, test };
}

/**
 * FaceNet-style cross-validated threshold: for each of k folds (same and different pairs each split
 * into k parts), choose the threshold at `targetFar` on the other k-1 folds and measure FAR / TAR on
 * the held-out fold. Reports VAL@FAR as the mean ± sample standard deviation of the held-out TAR.
 * Without an rng the folds are round-robin in input order; pass one (e.g. `createRng(seed)`) to shuffle.
 *
 * @example
 * const result = kFoldThreshold(sameDistances, diffDistances, 10, 1e-3, createRng(7));
 * console.log(`VAL@FAR=1e-3: ${result.tar.mean} ± ${result.tar.std}, FAR ${result.far.mean}`);
 */
export function kFoldThreshold(
  sameDistances: ArrayLike<number>,
  diffDistances: ArrayLike<number>,
  k: number,
  targetFar: number,
  rng?: RandomSource,
): KFoldResult {
  if (!(Number.isInteger(k) && k >= 2)) throw new RangeError(`k must be an integer >= 2, got ${k}`);
  if (k > sameDistances.length || k > diffDistances.length) {
    throw new RangeError(
      `k=${k} folds need at least ${k} pairs of each kind, got ${sameDistances.length} same and ${diffDistances.length} different`,
    );
  }
  const sameFolds = foldAssignment(sameDistances.length, k, rng);
  const diffFolds = foldAssignment(diffDistances.length, k, rng);

  const folds: KFoldResult['folds'] = [];
  for (let fold = 0; fold < k; fold++) {
    const same = split(sameDistances, sameFolds, fold);
    const diff = split(diffDistances, diffFolds, fold);
    const chosen = thresholdAtFar(rocCurve(same.train, diff.train), targetFar);
    const heldOut = ratesAtThreshold(rocCurve(same.test, diff.test), chosen.threshold);
    folds.push({
      threshold: chosen.threshold,
      trainFar: chosen.far,
      trainTar: chosen.tar,
      far: heldOut.far,
      tar: heldOut.tar,
    });
  }
  const summary = (values: number[]) => ({ mean: mean(values), std: standardDeviation(values) });
  return {
    k,
    targetFar,
    folds,
    tar: summary(folds.map((f) => f.tar)),
    far: summary(folds.map((f) => f.far)),
    threshold: summary(folds.map((f) => f.threshold)),
  };
}
