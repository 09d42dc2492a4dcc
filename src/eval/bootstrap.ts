/**
 * How much an EER measured on a few people can be trusted: a percentile confidence interval from
 * resampling *identities* with replacement (the "subsets bootstrap" of Bolle, Ratha & Pankanti 2004).
 * Pairs of one person are not independent draws, so resampling pairs would make the interval far too
 * narrow; resampling people is what a different test panel would change. Pure.
 */
import type { Rng } from '../data/rng.js';
import { equalErrorRate } from '../metrics/index.js';

/** Scored pairs with the identities they come from (a same pair has `identityA === identityB`). */
export interface IdentityPairs {
  distances: Float64Array;
  identityA: Int32Array;
  identityB: Int32Array;
}

export interface BootstrapOptions {
  /** Resampled panels; 1,000 gives stable 95% bounds to about a tenth of a point. */
  resamples: number;
  rng: Rng;
  /** Coverage of the interval, default 0.95. */
  level?: number;
}

export interface EerInterval {
  low: number;
  high: number;
  level: number;
  /** Panels that had both a same and a different pair (the others have no EER and are skipped). */
  resamples: number;
}

/**
 * The pairs sorted by distance, once, in flat arrays (the resampling loop reads them in order), with
 * reusable ROC buffers: one point per pair plus the accept-nothing point.
 */
export interface SortedPairs {
  distances: Float64Array;
  identityA: Int32Array;
  identityB: Int32Array;
  roc: { thresholds: Float64Array; far: Float64Array; tar: Float64Array };
}

/** Sorts `pairs` by distance for `weightedEer`. */
export function sortPairs(pairs: IdentityPairs): SortedPairs {
  const order = Uint32Array.from(pairs.distances.keys()).sort((p, q) => pairs.distances[p]! - pairs.distances[q]!);
  const capacity = order.length + 1;
  return {
    distances: Float64Array.from(order, (k) => pairs.distances[k]!),
    identityA: Int32Array.from(order, (k) => pairs.identityA[k]!),
    identityB: Int32Array.from(order, (k) => pairs.identityB[k]!),
    roc: { thresholds: new Float64Array(capacity), far: new Float64Array(capacity), tar: new Float64Array(capacity) },
  };
}

/**
 * The EER of the pairs when identity `k` is counted `counts[k]` times: a same pair weighs counts[k],
 * a different pair counts[a] * counts[b] (every copy of a meets every copy of b). NaN when the panel
 * has no same or no different pair.
 */
export function weightedEer(sorted: SortedPairs, counts: Float64Array): number {
  const { distances, identityA, identityB } = sorted;
  const n = distances.length;
  let totalSame = 0;
  let totalDifferent = 0;
  for (let k = 0; k < n; k++) {
    const a = identityA[k]!;
    const b = identityB[k]!;
    if (a === b) totalSame += counts[a]!;
    else totalDifferent += counts[a]! * counts[b]!;
  }
  if (totalSame === 0 || totalDifferent === 0) return Number.NaN;
  // One ROC point per distinct distance, as rocCurve does, but with weighted counts.
  const { thresholds, far, tar } = sorted.roc;
  thresholds[0] = -Infinity;
  far[0] = 0;
  tar[0] = 0;
  let points = 1;
  let same = 0;
  let different = 0;
  for (let i = 0; i < n; ) {
    const d = distances[i]!;
    for (; i < n && distances[i] === d; i++) {
      const a = identityA[i]!;
      const b = identityB[i]!;
      if (a === b) same += counts[a]!;
      else different += counts[a]! * counts[b]!;
    }
    thresholds[points] = d;
    far[points] = different / totalDifferent;
    tar[points] = same / totalSame;
    points++;
  }
  return equalErrorRate({ thresholds: thresholds.subarray(0, points), far: far.subarray(0, points), tar: tar.subarray(0, points) }).eer;
}

/**
 * A percentile interval for the EER over panels of the same number of identities, drawn with
 * replacement from those in `pairs`.
 *
 * @example
 * const interval = bootstrapEer(pairs, { resamples: 1000, rng: createRng(1) });
 * // { low: 0.06, high: 0.16, level: 0.95, resamples: 1000 }: another 10 people could well score 6-16%
 */
export function bootstrapEer(pairs: IdentityPairs, options: BootstrapOptions): EerInterval {
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1), got ${level}`);
  if (!Number.isInteger(options.resamples) || options.resamples < 1) throw new RangeError(`resamples must be a positive integer, got ${options.resamples}`);
  let identities = 0;
  for (let k = 0; k < pairs.distances.length; k++) identities = Math.max(identities, pairs.identityA[k]! + 1, pairs.identityB[k]! + 1);
  const sorted = sortPairs(pairs);
  const eers: number[] = [];
  const counts = new Float64Array(identities);
  for (let r = 0; r < options.resamples; r++) {
    counts.fill(0);
    for (let draw = 0; draw < identities; draw++) {
      const k = options.rng.int(identities);
      counts[k] = counts[k]! + 1;
    }
    const eer = weightedEer(sorted, counts);
    if (!Number.isNaN(eer)) eers.push(eer);
  }
  if (eers.length === 0) throw new RangeError('bootstrapEer: no resampled panel had both a same and a different pair');
  eers.sort((a, b) => a - b);
  const quantile = (q: number): number => eers[Math.min(eers.length - 1, Math.max(0, Math.round(q * (eers.length - 1))))]!;
  return { low: quantile((1 - level) / 2), high: quantile(1 - (1 - level) / 2), level, resamples: eers.length };
}
