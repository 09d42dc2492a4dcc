/**
 * Which identities a verifier gets wrong: at one threshold, each identity's false rejects (its own
 * pairs judged different) and false accepts (pairs with another identity judged the same), and the
 * identity it is most often taken for. An EER says how often; this says who, which is what a gallery
 * owner acts on (re-enrol a person photographed only one way, split a folder holding two people). Pure.
 */
import type { PairDistances } from '../metrics/index.js';

export interface IdentityErrors {
  identity: string;
  samePairs: number;
  /** Same pairs with distance above the threshold. */
  falseRejects: number;
  differentPairs: number;
  /** Different pairs, this identity on either side, with distance at or below the threshold. */
  falseAccepts: number;
  /** The identity with which it shares the most false accepts (ties: the first in gallery order); null if none. */
  mostConfusedWith: { identity: string; falseAccepts: number } | null;
}

/**
 * Errors per identity when pairs at distance <= `threshold` are accepted (the rule of `rocCurve`), in
 * the order of `names` (label k is `names[k]`).
 *
 * @example
 * const rows = errorsByIdentity(distances, set.identities, equalErrorRate(roc).threshold);
 * rows.filter((r) => r.falseRejects > 0); // who is not recognised as themselves
 */
export function errorsByIdentity(distances: PairDistances, names: readonly string[], threshold: number): IdentityErrors[] {
  const n = names.length;
  const samePairs = new Int32Array(n);
  const falseRejects = new Int32Array(n);
  const differentPairs = new Int32Array(n);
  const falseAccepts = new Int32Array(n);
  // Confusions between identity pairs, sparse: most pairs of identities are never confused.
  const confusions = new Map<number, number>();
  distances.sameLabels.forEach((k, i) => {
    samePairs[k]! += 1;
    if (distances.same[i]! > threshold) falseRejects[k]! += 1;
  });
  const { a, b } = distances.differentLabels;
  distances.different.forEach((d, i) => {
    const ka = a[i]!;
    const kb = b[i]!;
    differentPairs[ka]! += 1;
    differentPairs[kb]! += 1;
    if (d > threshold) return;
    falseAccepts[ka]! += 1;
    falseAccepts[kb]! += 1;
    const key = Math.min(ka, kb) * n + Math.max(ka, kb);
    confusions.set(key, (confusions.get(key) ?? 0) + 1);
  });
  const worst: ({ other: number; count: number } | null)[] = Array.from({ length: n }, () => null);
  const consider = (k: number, other: number, count: number): void => {
    const current = worst[k];
    if (!current || count > current.count || (count === current.count && other < current.other)) worst[k] = { other, count };
  };
  for (const [key, count] of confusions) {
    const low = Math.floor(key / n);
    const high = key % n;
    consider(low, high, count);
    consider(high, low, count);
  }
  return names.map((identity, k) => ({
    identity,
    samePairs: samePairs[k]!,
    falseRejects: falseRejects[k]!,
    differentPairs: differentPairs[k]!,
    falseAccepts: falseAccepts[k]!,
    mostConfusedWith: worst[k] ? { identity: names[worst[k]!.other]!, falseAccepts: worst[k]!.count } : null,
  }));
}
