/**
 * Which images train together: identity splits, balanced pairs, P x K batches and evaluation pairs.
 * Pure functions over label arrays and image indices; all randomness comes from the `Rng` passed in.
 */
import type { Rng } from './rng.js';

/** Image indices of each class (label), ascending. */
export type Groups = Map<number, number[]>;

/** Pairs of image indices with a 1/0 "same identity" target, aligned by position. */
export interface PairBatch {
  a: Int32Array;
  b: Int32Array;
  /** 1 when a[i] and b[i] show the same identity, else 0. */
  same: Float32Array;
}

/**
 * Splits identities (not images) into disjoint train and validation sets, so validation measures
 * generalisation to unseen identities. Both sides get at least 2 identities when `valFraction > 0`;
 * `valFraction = 0` puts everything in train. Both lists are sorted.
 *
 * @example
 * splitByIdentity(40, 0.25, createRng(1)); // { train: [30 indices], val: [10 indices] }
 */
export function splitByIdentity(identityCount: number, valFraction: number, rng: Rng): { train: number[]; val: number[] } {
  if (!Number.isInteger(identityCount) || identityCount < 0) {
    throw new RangeError(`splitByIdentity: identityCount must be a non-negative integer, got ${identityCount}`);
  }
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new RangeError(`splitByIdentity: valFraction must be in [0, 1), got ${valFraction}`);
  }
  const all = Array.from({ length: identityCount }, (_, i) => i);
  if (valFraction === 0) return { train: all, val: [] };
  if (identityCount < 4) {
    throw new RangeError(
      `splitByIdentity: a validation split needs at least 4 identities (2 for training, 2 for validation), got ${identityCount}`,
    );
  }
  const valCount = Math.min(identityCount - 2, Math.max(2, Math.round(identityCount * valFraction)));
  rng.shuffle(all);
  const byNumber = (x: number, y: number): number => x - y;
  return { train: all.slice(valCount).sort(byNumber), val: all.slice(0, valCount).sort(byNumber) };
}

/**
 * Groups image indices by label.
 *
 * @example
 * groupByLabel(Int32Array.of(0, 1, 0)); // Map { 0 => [0, 2], 1 => [1] }
 */
export function groupByLabel(labels: Int32Array): Groups {
  const groups: Groups = new Map();
  labels.forEach((label, index) => {
    const group = groups.get(label);
    if (group) group.push(index);
    else groups.set(label, [index]);
  });
  return groups;
}

const imagesOf = (groups: Groups, label: number): number[] => groups.get(label) ?? [];

/** Two distinct random elements of `items` (length >= 2). */
function twoDistinct(items: readonly number[], rng: Rng): [number, number] {
  const i = rng.int(items.length);
  const j = (i + 1 + rng.int(items.length - 1)) % items.length;
  return [items[i], items[j]];
}

/**
 * Samples a balanced batch of pairs from the given classes: `floor(count / 2)` positive pairs (two
 * different images of one class, drawn from classes with at least 2 images) and the rest negative (one
 * image from each of two different classes, any class). Classes are chosen uniformly, then images
 * uniformly within them. The batch is shuffled so positives and negatives interleave.
 *
 * @example
 * const groups = groupByLabel(set.labels);
 * const { a, b, same } = samplePairs(groups, split.train, 32, rng); // 16 same, 16 different
 */
export function samplePairs(groups: Groups, classes: readonly number[], count: number, rng: Rng): PairBatch {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`samplePairs: count must be a non-negative integer, got ${count}`);
  const usable = classes.filter((c) => imagesOf(groups, c).length > 0);
  const withPairs = usable.filter((c) => imagesOf(groups, c).length >= 2);
  const positives = Math.floor(count / 2);
  const negatives = count - positives;
  if (positives > 0 && withPairs.length === 0) {
    throw new RangeError('samplePairs: no class has 2 or more images, so no positive pair exists');
  }
  if (negatives > 0 && usable.length < 2) {
    throw new RangeError(`samplePairs: negative pairs need 2 classes with images, got ${usable.length}`);
  }

  const order = rng.shuffle(Array.from({ length: count }, (_, i) => i));
  const batch: PairBatch = { a: new Int32Array(count), b: new Int32Array(count), same: new Float32Array(count) };
  order.forEach((slot, k) => {
    if (k < positives) {
      [batch.a[slot], batch.b[slot]] = twoDistinct(imagesOf(groups, rng.pick(withPairs)), rng);
      batch.same[slot] = 1;
    } else {
      const [classA, classB] = twoDistinct(usable, rng);
      batch.a[slot] = rng.pick(imagesOf(groups, classA));
      batch.b[slot] = rng.pick(imagesOf(groups, classB));
    }
  });
  return batch;
}

/**
 * A P x K batch: `P` distinct classes, `K` images of each, laid out class by class
 * ([c0 x K, c1 x K, ...]). Only classes with at least 2 images are eligible (every anchor needs a
 * positive that is a different image). A class with fewer than K images contributes all of them,
 * topped up by sampling with replacement; otherwise its K images are distinct.
 *
 * @example
 * const batch = samplePK(groups, split.train, 16, 4, rng); // Int32Array(64) of image indices
 */
export function samplePK(groups: Groups, classes: readonly number[], P: number, K: number, rng: Rng): Int32Array {
  if (!Number.isInteger(P) || P < 1 || !Number.isInteger(K) || K < 1) {
    throw new RangeError(`samplePK: P and K must be positive integers, got P=${P}, K=${K}`);
  }
  const eligible = [...new Set(classes)].filter((c) => imagesOf(groups, c).length >= 2);
  if (eligible.length < P) {
    throw new RangeError(`samplePK: need ${P} classes with at least 2 images, only ${eligible.length} have`);
  }
  // Partial Fisher-Yates: the first P entries become a uniform sample without replacement.
  for (let i = 0; i < P; i++) {
    const j = i + rng.int(eligible.length - i);
    [eligible[i], eligible[j]] = [eligible[j], eligible[i]];
  }
  const batch = new Int32Array(P * K);
  for (let p = 0; p < P; p++) {
    const images = rng.shuffle([...imagesOf(groups, eligible[p])]);
    for (let k = 0; k < K; k++) batch[p * K + k] = k < images.length ? images[k] : rng.pick(images);
  }
  return batch;
}

/**
 * An N-pair batch (Sohn 2016): P distinct classes with two images each, ordered [a0, b0, a1, b1, ...]
 * so that a_i and b_i match and every other pairing is a negative.
 *
 * @example
 * const batch = sampleNPair(groups, split.train, 64, rng); // Int32Array(128)
 */
export function sampleNPair(groups: Groups, classes: readonly number[], P: number, rng: Rng): Int32Array {
  return samplePK(groups, classes, P, 2, rng);
}

/**
 * Evaluation pairs over a labelled set: every positive pair (i < j, same label) and negative pairs
 * (i < j, different labels): all of them when there are at most `maxNegatives`, else `maxNegatives`
 * distinct ones drawn uniformly with `rng`. Positives come first, then negatives, each in (i, j) order.
 *
 * @example
 * const pairs = allPairs(valSet.labels, 50_000, createRng(0));
 */
export function allPairs(labels: Int32Array, maxNegatives: number, rng: Rng): PairBatch {
  if (!Number.isInteger(maxNegatives) || maxNegatives < 0) {
    throw new RangeError(`allPairs: maxNegatives must be a non-negative integer, got ${maxNegatives}`);
  }
  const n = labels.length;
  const positiveA: number[] = [];
  const positiveB: number[] = [];
  for (const members of groupByLabel(labels).values()) {
    for (let x = 0; x < members.length; x++) {
      for (let y = x + 1; y < members.length; y++) {
        positiveA.push(members[x]);
        positiveB.push(members[y]);
      }
    }
  }
  // Sort positives by (i, j) so the order does not depend on label values.
  const positiveOrder = positiveA.map((_, k) => k).sort((p, q) => positiveA[p] - positiveA[q] || positiveB[p] - positiveB[q]);

  const totalPairs = (n * (n - 1)) / 2;
  const totalNegatives = totalPairs - positiveA.length;
  // Negative pairs as keys i * n + j (exact: n^2 stays far below 2^53 for any gallery that fits in memory).
  let negativeKeys: number[];
  if (totalNegatives <= 2 * maxNegatives) {
    negativeKeys = [];
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) if (labels[i] !== labels[j]) negativeKeys.push(i * n + j);
    }
    if (negativeKeys.length > maxNegatives) {
      // Dense case: a partial shuffle picks maxNegatives uniformly without rejection loops.
      for (let k = 0; k < maxNegatives; k++) {
        const r = k + rng.int(negativeKeys.length - k);
        [negativeKeys[k], negativeKeys[r]] = [negativeKeys[r], negativeKeys[k]];
      }
      negativeKeys.length = maxNegatives;
    }
  } else {
    // Sparse case: rejection sampling; at least half of all draws are new negatives.
    const chosen = new Set<number>();
    while (chosen.size < maxNegatives) {
      const i = rng.int(n);
      const j = rng.int(n);
      if (i === j || labels[i] === labels[j]) continue;
      chosen.add(Math.min(i, j) * n + Math.max(i, j));
    }
    negativeKeys = [...chosen];
  }
  negativeKeys.sort((x, y) => x - y);

  const total = positiveA.length + negativeKeys.length;
  const batch: PairBatch = { a: new Int32Array(total), b: new Int32Array(total), same: new Float32Array(total) };
  positiveOrder.forEach((p, k) => {
    batch.a[k] = positiveA[p];
    batch.b[k] = positiveB[p];
    batch.same[k] = 1;
  });
  negativeKeys.forEach((key, k) => {
    batch.a[positiveA.length + k] = Math.floor(key / n);
    batch.b[positiveA.length + k] = key % n;
  });
  return batch;
}
