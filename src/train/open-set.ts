/**
 * Open-set calibration: the decision threshold for identification against a gallery, as NIST FRVT
 * 1:N reports measure it. Held-out identities are enrolled (half of each one's images), probed with
 * their other images (known probes), and each in turn plays a stranger against a gallery of all the
 * others (leave one identity out), so every held-out identity and image serves both roles.
 *
 * - FPIR(t), the false-positive identification rate: the fraction of stranger probes whose nearest
 *   gallery image lies within t (matched to someone, wrongly).
 * - TIR(t), the true identification rate: the fraction of known probes whose nearest gallery image
 *   is of the right identity and lies within t.
 *
 * The server's threshold is the largest one whose FPIR on these strangers is at most the target.
 * Pure functions on embeddings; the caller embeds.
 */
import { l2Distance } from '../model/embed.js';
import type { OpenSetPoint } from '../model/card.js';

/** Every probe's nearest gallery distance, for both roles. */
export interface OpenSetTrials {
  /** Known probes: distance to the nearest enrolled image and whether that image is of the probe's identity. */
  known: { distance: Float64Array; correct: Uint8Array };
  /** Stranger probes (ascending): distance to the nearest enrolled image of any other identity. */
  strangers: Float64Array;
  /** Identities: each is enrolled, and each plays a stranger against the other identities' enrolled images. */
  identities: number;
}

export type { OpenSetPoint };

/**
 * Below this many stranger identities the FPIR rests on a handful of people: a stranger's photos tend to
 * fall on the same side of the threshold together (a look-alike is matched in most of them), so one
 * person moves the FPIR by a whole 1/n. Ten people keeps that step at 10% of the probes or less.
 */
export const MIN_STRANGER_IDENTITIES = 10;

/**
 * Enrols the first half (rounded up) of each identity's images and probes with the rest; every identity
 * then plays a stranger with all its images against the enrolled images of the others. Identities with
 * one image are enrolled and play strangers but give no known probe. O(images x enrolled x dim).
 *
 * @example
 * const trials = openSetTrials(vectors, 128, labels);
 * trials.strangers.length; // = number of images
 */
export function openSetTrials(vectors: Float32Array, dim: number, labels: Int32Array): OpenSetTrials {
  const count = labels.length;
  if (vectors.length !== count * dim) throw new RangeError(`openSetTrials: ${vectors.length} values for ${count} images of dimension ${dim}`);
  const byIdentity = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const list = byIdentity.get(label) ?? [];
    list.push(i);
    byIdentity.set(label, list);
  });
  const enrolled: number[] = [];
  const isEnrolled = new Uint8Array(count);
  for (const images of byIdentity.values()) {
    for (const i of images.slice(0, Math.ceil(images.length / 2))) {
      enrolled.push(i);
      isEnrolled[i] = 1;
    }
  }
  const row = (i: number) => vectors.subarray(i * dim, (i + 1) * dim);
  const knownDistance: number[] = [];
  const knownCorrect: number[] = [];
  const strangers: number[] = [];
  for (let p = 0; p < count; p++) {
    let nearest = Infinity;
    let nearestLabel = -1;
    let nearestOther = Infinity;
    for (const g of enrolled) {
      if (g === p) continue;
      const d = l2Distance(row(p), row(g));
      if (d < nearest) {
        nearest = d;
        nearestLabel = labels[g]!;
      }
      if (labels[g] !== labels[p] && d < nearestOther) nearestOther = d;
    }
    if (Number.isFinite(nearestOther)) strangers.push(nearestOther);
    if (!isEnrolled[p] && Number.isFinite(nearest)) {
      knownDistance.push(nearest);
      knownCorrect.push(nearestLabel === labels[p] ? 1 : 0);
    }
  }
  return {
    known: { distance: Float64Array.from(knownDistance), correct: Uint8Array.from(knownCorrect) },
    strangers: Float64Array.from(strangers).sort(),
    identities: byIdentity.size,
  };
}

/**
 * FPIR and TIR of the trials at a threshold (accept when distance <= t).
 *
 * @example
 * openSetRates(trials, 0.45); // { fpir: 0.01, tir: 0.98 }
 */
export function openSetRates(trials: OpenSetTrials, threshold: number): { fpir: number; tir: number } {
  let falsePositives = 0;
  for (const d of trials.strangers) if (d <= threshold) falsePositives++;
  let identified = 0;
  trials.known.distance.forEach((d, i) => {
    if (trials.known.correct[i] && d <= threshold) identified++;
  });
  return {
    fpir: trials.strangers.length ? falsePositives / trials.strangers.length : 0,
    tir: trials.known.distance.length ? identified / trials.known.distance.length : 0,
  };
}

/** A double just below x (x finite): accepts nothing at x. */
function below(x: number): number {
  return x > 0 ? x * (1 - Number.EPSILON) : -Number.MIN_VALUE;
}

/**
 * Why the calibration data cannot support the target, or undefined when they can: fewer stranger probes
 * than 1 / targetFpir (FPIR then moves in steps coarser than the target, so "at most the target" means
 * "no stranger matched at all" on these probes), fewer than `MIN_STRANGER_IDENTITIES` stranger identities,
 * or no known probe (no identity with two images: TIR unmeasured).
 */
export function openSetWarning(point: Pick<OpenSetPoint, 'targetFpir' | 'strangers' | 'strangerIdentities' | 'knownProbes'>): string | undefined {
  const problems: string[] = [];
  const neededProbes = Math.ceil(1 / point.targetFpir - 1e-9);
  if (point.strangers < neededProbes) {
    problems.push(`${point.strangers} stranger images (FPIR ${percent(point.targetFpir)} needs at least ${neededProbes} to be measured)`);
  }
  if (point.strangerIdentities < MIN_STRANGER_IDENTITIES) {
    problems.push(`${point.strangerIdentities} stranger identities (at least ${MIN_STRANGER_IDENTITIES}: one person's photos tend to be matched or rejected together)`);
  }
  if (point.knownProbes === 0) problems.push('no identity with two or more images, so the rate of finding known people was not measured');
  if (!problems.length) return undefined;
  return `too little calibration data for the match threshold: ${problems.join('; ')}. Strangers may be matched more often than ${percent(point.targetFpir)}: calibrate on more identities (a trained model calibrates on the share --val-fraction holds out).`;
}

function percent(rate: number): string {
  return `${Number((rate * 100).toPrecision(3))}%`;
}

/**
 * The open-set threshold: the largest stranger distance at which at most `targetFpir` of the stranger
 * probes are matched (a measured distance, the conservative choice, as `thresholdAtFar` makes for pairs);
 * just below the nearest stranger when the target allows none. With the rates measured there, the
 * counts, and a warning when the data are too few (see `openSetWarning`).
 *
 * @example
 * const point = calibrateOpenSet(openSetTrials(vectors, 128, labels), 0.01);
 * point.threshold; point.fpir; point.tir; point.warning;
 */
export function calibrateOpenSet(trials: OpenSetTrials, targetFpir: number): OpenSetPoint {
  if (!(targetFpir > 0 && targetFpir < 1)) throw new RangeError(`targetFpir must be in (0, 1), got ${targetFpir}`);
  const s = trials.strangers;
  if (s.length === 0) throw new RangeError('open-set calibration needs at least two identities (one stranger against a gallery of another)');
  const allowed = Math.floor(targetFpir * s.length + 1e-9);
  // Take the largest accepted count k <= allowed that a threshold can realise (ties move together).
  let threshold = below(s[0]!);
  for (let k = Math.min(allowed, s.length); k >= 1; k--) {
    if (k === s.length || s[k - 1]! < s[k]!) {
      threshold = s[k - 1]!;
      break;
    }
  }
  const { fpir, tir } = openSetRates(trials, threshold);
  const counts = { targetFpir, galleryIdentities: trials.identities - 1, knownProbes: trials.known.distance.length, strangers: s.length, strangerIdentities: trials.identities };
  const warning = openSetWarning(counts);
  return { threshold, fpir, tir, ...counts, ...(warning ? { warning } : {}) };
}

/**
 * One sentence for training's output.
 *
 * @example
 * describeOpenSet(point);
 * // "open set: at threshold 0.4793, 0.667% of 150 stranger images (30 people) were matched to someone (target 1%),
 * //  and 98.3% of 60 photos of known people found the right one, each stranger searched against a gallery of 29 identities"
 */
export function describeOpenSet(point: OpenSetPoint): string {
  return (
    `open set: at threshold ${point.threshold.toFixed(4)}, ${percent(point.fpir)} of ${point.strangers} stranger images (${point.strangerIdentities} people) were matched to someone ` +
    `(target ${percent(point.targetFpir)}), and ${percent(point.tir)} of ${point.knownProbes} photos of known people found the right one, ` +
    `each stranger searched against a gallery of ${point.galleryIdentities} identities` +
    (point.warning ? `\nWARNING: ${point.warning}` : '')
  );
}

/**
 * The threshold a server decides with: the open-set one when there is one (identification against a
 * gallery is what a search does), else the pair calibration's default; with where it came from.
 *
 * @example
 * defaultDecision(calibration, openSet); // { threshold: 0.52, source: 'open-set fpir<=0.01' }
 */
export function defaultDecision(pairs: { default: { threshold: number; source: string } }, openSet?: OpenSetPoint): { threshold: number; source: string } {
  if (!openSet) return pairs.default;
  return { threshold: openSet.threshold, source: `open-set fpir<=${openSet.targetFpir}${openSet.warning ? ' (too little data: see thresholds.openSet.warning)' : ''}` };
}
