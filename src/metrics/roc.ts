/**
 * Verification metrics on pair distances: the ROC curve, its AUC, the equal error rate, the threshold
 * at a target false-accept rate and the rates at a given threshold. Pure functions on plain arrays.
 *
 * Convention throughout: a pair is accepted as "same" when its distance <= threshold.
 */

/** A ROC curve: one point per distinct threshold, sorted by threshold ascending. */
export interface Roc {
  /**
   * Thresholds ascending. The first is the largest double below the smallest distance (it accepts
   * nothing: FAR = TAR = 0); it stays finite so thresholds survive JSON. The last is the largest distance.
   */
  thresholds: Float64Array;
  /** False-accept rate at each threshold: the fraction of different-identity pairs accepted. */
  far: Float64Array;
  /** True-accept rate at each threshold: the fraction of same-identity pairs accepted. */
  tar: Float64Array;
}

/** An operating point: a threshold and the FAR / TAR measured there. */
export interface OperatingPoint {
  threshold: number;
  far: number;
  tar: number;
}

/** Ascending copy of the distances as a Float64Array; rejects NaN, which has no place in an ordering. */
function sortedCopy(values: ArrayLike<number>, name: string): Float64Array {
  const sorted = Float64Array.from(values);
  for (let i = 0; i < sorted.length; i++) {
    if (Number.isNaN(sorted[i])) throw new RangeError(`${name}[${i}] is NaN`);
  }
  return sorted.sort();
}

/** The largest double strictly below x (x finite), so "distance <= result" excludes x itself. */
function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const buffer = new DataView(new ArrayBuffer(8));
  buffer.setFloat64(0, x);
  const bits = buffer.getBigInt64(0);
  // Stepping the IEEE-754 bit pattern moves to the adjacent double: towards zero for
  // positives (bits - 1), away from zero for negatives (bits + 1).
  buffer.setBigInt64(0, x > 0 ? bits - 1n : bits + 1n);
  return buffer.getFloat64(0);
}

/**
 * The ROC curve of a verifier that accepts pairs with distance <= threshold, with one point per
 * distinct distance (pairs at equal distances move together, so ties give diagonal steps), plus a
 * first point that accepts nothing. Starts at (FAR 0, TAR 0) and ends at (1, 1). O(n log n).
 *
 * @param sameDistances distances of same-identity (positive) pairs; at least one
 * @param diffDistances distances of different-identity (negative) pairs; at least one
 * @example
 * const roc = rocCurve([0.1, 0.3], [0.2, 0.9]);
 * // roc.far = [0, 0, 0.5, 0.5, 1], roc.tar = [0, 0.5, 0.5, 1, 1]
 */
export function rocCurve(sameDistances: ArrayLike<number>, diffDistances: ArrayLike<number>): Roc {
  if (sameDistances.length === 0) throw new RangeError('rocCurve needs at least one same-identity pair');
  if (diffDistances.length === 0) throw new RangeError('rocCurve needs at least one different-identity pair');
  const same = sortedCopy(sameDistances, 'sameDistances');
  const diff = sortedCopy(diffDistances, 'diffDistances');
  const nSame = same.length;
  const nDiff = diff.length;

  const capacity = nSame + nDiff + 1;
  const thresholds = new Float64Array(capacity);
  const far = new Float64Array(capacity);
  const tar = new Float64Array(capacity);
  thresholds[0] = nextDown(Math.min(same[0], diff[0]));

  // Merge the two sorted lists, emitting one point per distinct distance after consuming every pair at it.
  let i = 0;
  let j = 0;
  let points = 1;
  while (i < nSame || j < nDiff) {
    const next = j >= nDiff || (i < nSame && same[i] <= diff[j]) ? same[i] : diff[j];
    while (i < nSame && same[i] === next) i++;
    while (j < nDiff && diff[j] === next) j++;
    thresholds[points] = next;
    tar[points] = i / nSame;
    far[points] = j / nDiff;
    points++;
  }
  return {
    thresholds: thresholds.slice(0, points),
    far: far.slice(0, points),
    tar: tar.slice(0, points),
  };
}

/**
 * Area under the ROC curve by the trapezoid rule over FAR. With ties handled as diagonal steps this
 * equals P(same distance < different distance) + P(tie) / 2, the Mann-Whitney statistic.
 *
 * @example
 * auc(rocCurve([0.1, 0.2], [0.5, 0.6])); // 1
 */
export function auc(roc: Roc): number {
  let area = 0;
  for (let k = 1; k < roc.far.length; k++) {
    area += (roc.far[k] - roc.far[k - 1]) * (roc.tar[k] + roc.tar[k - 1]) / 2;
  }
  return area;
}

/**
 * The equal error rate: where FAR equals FRR (= 1 - TAR), linearly interpolated between the two
 * ROC points that bracket the crossing, with the threshold interpolated the same way. When the
 * classes separate perfectly it is 0, at the largest same-pair distance.
 *
 * @example
 * equalErrorRate(rocCurve([0.1, 0.2], [0.5, 0.6])); // { eer: 0, threshold: 0.2 }
 */
export function equalErrorRate(roc: Roc): { eer: number; threshold: number } {
  const { far, tar, thresholds } = roc;
  // gap = FAR - FRR rises from -1 at the first point to +1 at the last.
  const gap = (k: number): number => far[k] - (1 - tar[k]);
  let k = 1;
  while (k < far.length - 1 && gap(k) < 0) k++;
  const before = gap(k - 1);
  const after = gap(k);
  const weight = after === before ? 1 : -before / (after - before);
  return {
    eer: far[k - 1] + weight * (far[k] - far[k - 1]),
    threshold: thresholds[k - 1] + weight * (thresholds[k] - thresholds[k - 1]),
  };
}

/**
 * The largest ROC threshold whose measured FAR is <= targetFar, so the achieved FAR on these pairs
 * never exceeds the target, with the FAR and TAR measured there.
 *
 * With n different-identity pairs FAR moves in steps of 1/n, so the smallest non-zero FAR that can
 * be resolved is 1/n: for a target below that, the result is the largest threshold that accepts no
 * different pair at all, and the returned `far` is the measured one (0), not the target.
 *
 * The threshold returned is a measured distance (a ROC point), not the supremum just below the next
 * different pair: the conservative choice for FAR. A held-out same pair a little farther away than
 * every calibration same pair is rejected by it.
 *
 * @example
 * thresholdAtFar(rocCurve([0.1, 0.3], [0.2, 0.9]), 0.5); // { threshold: 0.3, far: 0.5, tar: 1 }
 */
export function thresholdAtFar(roc: Roc, targetFar: number): OperatingPoint {
  if (!(targetFar >= 0 && targetFar <= 1)) throw new RangeError(`targetFar must be in [0, 1], got ${targetFar}`);
  // FAR is non-decreasing along the curve: binary search for the last point with far <= target.
  let lo = 0;
  let hi = roc.far.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (roc.far[mid] <= targetFar) lo = mid;
    else hi = mid - 1;
  }
  return { threshold: roc.thresholds[lo], far: roc.far[lo], tar: roc.tar[lo] };
}

/**
 * The FAR and TAR measured at an arbitrary threshold (for instance one chosen on other data):
 * those of the last ROC point whose threshold is <= the given one.
 *
 * @example
 * ratesAtThreshold(rocCurve([0.1, 0.3], [0.2, 0.9]), 0.25); // { threshold: 0.25, far: 0.5, tar: 0.5 }
 */
export function ratesAtThreshold(roc: Roc, threshold: number): OperatingPoint {
  let lo = -1;
  let hi = roc.thresholds.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (roc.thresholds[mid] <= threshold) lo = mid;
    else hi = mid - 1;
  }
  return lo < 0 ? { threshold, far: 0, tar: 0 } : { threshold, far: roc.far[lo], tar: roc.tar[lo] };
}
