import { describe, expect, it } from 'vitest';
import type { SearchHit } from '../../index/vector-store.js';
import { calibratedThreshold, requestThreshold, searchResult, similarity } from './index.js';

const thresholds = {
  eer: { threshold: 0.74, far: 0.04, tar: 0.96 },
  atFar: [
    { threshold: 0.47, far: 0.001, tar: 0.5, targetFar: 0.001 },
    { threshold: 0.62, far: 0.01, tar: 0.84, targetFar: 0.01 },
  ],
  default: 0.47,
};

const hit = (identity: string, distance: number, label = 1): SearchHit => ({ label, identity, origin: 'folder', source: `${identity}/1.png`, sha256: 'a'.repeat(64), distance });

describe('thresholds', () => {
  it('uses the card default with its measured FAR/TAR, or the point of TARGET_FAR', () => {
    expect(calibratedThreshold({ thresholds })).toEqual({ value: 0.47, source: 'calibrated', far: 0.001, tar: 0.5 });
    expect(calibratedThreshold({ thresholds }, 0.01)).toEqual({ value: 0.62, source: 'calibrated', far: 0.01, tar: 0.84 });
    expect(calibratedThreshold({ thresholds: { ...thresholds, default: 0.74 } })).toMatchObject({ far: 0.04, tar: 0.96 });
    expect(calibratedThreshold({ thresholds: { ...thresholds, default: 0.5 } })).toMatchObject({ value: 0.5, far: null, tar: null });
    expect(() => calibratedThreshold({ thresholds }, 0.05)).toThrow(/0\.001, 0\.01/);
  });

  it('reports the open-set calibration (FPIR, TIR, counts, warning) when the default is the open-set threshold', () => {
    const openSet = { threshold: 0.55, fpir: 0.01, tir: 0.98, targetFpir: 0.01, galleryIdentities: 29, knownProbes: 60, strangers: 150, strangerIdentities: 30, warning: 'too little' };
    expect(calibratedThreshold({ thresholds: { ...thresholds, default: 0.55, openSet } })).toEqual({ value: 0.55, source: 'calibrated', far: null, tar: null, openSet });
    // TARGET_FAR picks a pair point: the open-set rates do not describe it.
    expect(calibratedThreshold({ thresholds: { ...thresholds, default: 0.55, openSet } }, 0.01)).not.toHaveProperty('openSet');
    expect(requestThreshold(calibratedThreshold({ thresholds: { ...thresholds, default: 0.55, openSet } }), 0.3)).not.toHaveProperty('openSet');
  });

  it('a request threshold replaces it, without FAR/TAR', () => {
    expect(requestThreshold(calibratedThreshold({ thresholds }), 0.3)).toEqual({ value: 0.3, source: 'request', far: null, tar: null });
  });
});

describe('similarity', () => {
  it('is the cosine similarity for unit vectors', () => {
    expect(similarity('l2', true, 0)).toBe(1);
    expect(similarity('l2', true, Math.SQRT2)).toBeCloseTo(0, 12);
    expect(similarity('l2', true, 2)).toBe(-1);
    expect(similarity('cosine', true, 0.25)).toBe(0.75);
    expect(similarity('l2', false, 1)).toBe(0.5);
  });
});

describe('searchResult', () => {
  const t = { value: 0.5, source: 'calibrated' as const, far: 0.001, tar: 0.5 };
  it('the nearest hit decides: a match within the threshold, else unknown', () => {
    const r = searchResult([hit('alice', 0.3), hit('bob', 0.6, 2)], t, { metric: 'l2', normalized: true });
    expect(r.decision).toEqual({ identity: 'alice', match: true, distance: 0.3 });
    expect(r.matches.map((m) => m.match)).toEqual([true, false]);
    expect(r.matches[0].image.thumbnail).toBe(`/v1/gallery/images/${'a'.repeat(64)}/thumbnail`);
    expect(searchResult([hit('bob', 0.6)], t, { metric: 'l2', normalized: true }).decision).toEqual({ identity: 'unknown', match: false, distance: 0.6 });
    expect(searchResult([], t, { metric: 'l2', normalized: true }).decision).toEqual({ identity: 'unknown', match: false, distance: null });
  });

  it('a distance equal to the threshold matches', () => {
    expect(searchResult([hit('alice', 0.5)], t, { metric: 'l2', normalized: true }).decision.match).toBe(true);
  });
});
