/**
 * Pure pieces of a search answer: which threshold applies (and what FAR/TAR it was calibrated
 * at), similarity from distance, and the decision + matches built from index hits.
 */
import type { ModelCard, OpenSetPoint } from '../../model/card.js';
import type { Metric } from '../../model/config.js';
import type { SearchHit } from '../../index/vector-store.js';
import { ConfigError } from '../config/index.js';

export interface ThresholdInfo {
  value: number;
  source: 'calibrated' | 'request';
  far: number | null;
  tar: number | null;
  /** When the value is the card's open-set threshold: FPIR / TIR measured there, the counts, and any warning. */
  openSet?: OpenSetPoint;
}

/**
 * The threshold the API uses when a request does not give one: the model card's point for
 * `targetFar` (TARGET_FAR), else the card's default (the open-set one in cards that have it), with
 * the FAR/TAR measured there and, for the open-set threshold, its FPIR / TIR, counts and warning.
 * Throws `ConfigError` when `targetFar` is not one the card was calibrated for.
 *
 * @example
 * calibratedThreshold(card)        // { value: 0.468, source: 'calibrated', far: 0.001, tar: 0.499 }
 * calibratedThreshold(card, 0.01)  // { value: 0.619, source: 'calibrated', far: 0.01, tar: 0.841 }
 */
export function calibratedThreshold(card: Pick<ModelCard, 'thresholds'>, targetFar?: number): ThresholdInfo {
  const { thresholds } = card;
  if (targetFar !== undefined) {
    const point = thresholds.atFar.find((p) => Math.abs(p.targetFar - targetFar) <= targetFar * 1e-9);
    if (!point) {
      const available = thresholds.atFar.map((p) => p.targetFar).join(', ') || 'none';
      throw new ConfigError(`TARGET_FAR=${targetFar} is not calibrated in the model card (calibrated FARs: ${available})`);
    }
    return { value: point.threshold, source: 'calibrated', far: point.far, tar: point.tar };
  }
  const value = thresholds.default;
  const point = thresholds.atFar.find((p) => p.threshold === value) ?? (thresholds.eer.threshold === value ? thresholds.eer : undefined);
  const openSet = thresholds.openSet?.threshold === value ? thresholds.openSet : undefined;
  return { value, source: 'calibrated', far: point?.far ?? null, tar: point?.tar ?? null, ...(openSet ? { openSet } : {}) };
}

/** The threshold for a request: its own (no FAR/TAR known) or the calibrated one. */
export function requestThreshold(calibrated: ThresholdInfo, override: number | undefined): ThresholdInfo {
  return override === undefined ? calibrated : { value: override, source: 'request', far: null, tar: null };
}

/**
 * Similarity in [-1, 1] from a distance: the cosine similarity of the two embeddings when it
 * is defined by the distance — `1 - d^2/2` for Euclidean distance between unit vectors
 * (|a-b|^2 = 2 - 2cos), `1 - d` for cosine distance — and `1 / (1 + d)` (in (0, 1]) for a model
 * whose embeddings are not normalised.
 *
 * @example
 * similarity('l2', true, 0)           // 1
 * similarity('l2', true, Math.SQRT2)  // 0 (orthogonal)
 * similarity('cosine', true, 0.25)    // 0.75
 */
export function similarity(metric: Metric, normalized: boolean, distance: number): number {
  if (metric === 'cosine') return 1 - distance;
  return normalized ? 1 - (distance * distance) / 2 : 1 / (1 + distance);
}

const round = (x: number, digits = 6): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export interface MatchOut {
  identity: string;
  distance: number;
  similarity: number;
  match: boolean;
  image: { label: number; sha256: string; source: string; origin: 'folder' | 'enrolment'; thumbnail: string };
}

export interface SearchResultOut {
  decision: { identity: string; match: boolean; distance: number | null };
  matches: MatchOut[];
  threshold: ThresholdInfo;
}

/** URL of a gallery image's thumbnail (content-addressed, so it stays right across re-indexes). */
export const thumbnailUrl = (sha256: string): string => `/v1/gallery/images/${sha256}/thumbnail`;

/**
 * Decision and matches from hits (nearest first): the nearest hit decides; it is a match when
 * its distance is at most the threshold, otherwise the answer is `"unknown"`.
 *
 * @example
 * searchResult(hits, threshold, { metric: 'l2', normalized: true }).decision // { identity: 'alice', match: true, distance: 0.31 }
 */
export function searchResult(hits: readonly SearchHit[], threshold: ThresholdInfo, space: { metric: Metric; normalized: boolean }): SearchResultOut {
  const matches = hits.map((h) => {
    const distance = round(h.distance);
    return {
      identity: h.identity,
      distance,
      similarity: round(similarity(space.metric, space.normalized, h.distance)),
      match: h.distance <= threshold.value,
      image: { label: h.label, sha256: h.sha256, source: h.source, origin: h.origin, thumbnail: thumbnailUrl(h.sha256) },
    };
  });
  const top = matches[0];
  const decision = top ? { identity: top.match ? top.identity : 'unknown', match: top.match, distance: top.distance } : { identity: 'unknown', match: false, distance: null };
  return { decision, matches, threshold };
}

export { round };
