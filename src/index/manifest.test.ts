import { describe, expect, it } from 'vitest';
import { isIndexError } from './errors.js';
import { parseManifest, type Manifest } from './manifest.js';

const good: Manifest = {
  format: 1,
  version: 'v000002-20261128T000000Z',
  parent: 'v000001-20261127T000000Z',
  createdAt: '2026-11-28T00:00:00Z',
  model: { id: 'm', weightsHash: 'w' },
  dim: 2,
  metric: 'l2',
  normalized: true,
  space: 'l2',
  hnsw: { M: 16, efConstruction: 200, ef: 100, randomSeed: 100, maxElements: 4, points: 3, nextLabel: 3, deletedLabels: [1] },
  counts: { images: 2, identities: 1, deleted: 1 },
  build: { mode: 'incremental', reason: 'test', added: 1, changed: 0, removed: 1, unchanged: 1, embedded: 1, seconds: 0.1 },
  gallery: { root: '/g', store: '/g/.twinsearch', journalSeq: 4 },
  entries: [
    { label: 0, identity: 'a', origin: 'folder', source: 'a/1.png', sha256: '1'.repeat(64), size: 3 },
    { label: 2, identity: 'a', origin: 'enrolment', source: `a/${'2'.repeat(64)}`, sha256: '2'.repeat(64), size: 4 },
  ],
};

const parse = (m: unknown): Manifest => parseManifest(JSON.stringify(m));
const code = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isIndexError(e) ? e.code : 'other';
  }
  return undefined;
};

describe('parseManifest', () => {
  it('accepts a consistent manifest', () => {
    expect(parse(good)).toEqual(good);
  });

  it('refuses schema violations and inconsistent fields with BAD_MANIFEST', () => {
    expect(code(() => parseManifest('{'))).toBe('BAD_MANIFEST');
    expect(code(() => parse({ ...good, format: 2 }))).toBe('BAD_MANIFEST');
    expect(code(() => parse({ ...good, counts: { ...good.counts, images: 3 } }))).toBe('BAD_MANIFEST');
    expect(code(() => parse({ ...good, hnsw: { ...good.hnsw, deletedLabels: [0] } }))).toBe('BAD_MANIFEST');
    expect(code(() => parse({ ...good, entries: [good.entries[0], { ...good.entries[1], label: 0 }] }))).toBe('BAD_MANIFEST');
    expect(code(() => parse({ ...good, hnsw: { ...good.hnsw, nextLabel: 2 } }))).toBe('BAD_MANIFEST');
    expect(() => parse({ ...good, counts: { ...good.counts, identities: 2 } })).toThrow(/identities/);
  });
});
