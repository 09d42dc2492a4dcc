import { describe, expect, it } from 'vitest';
import type { Manifest } from './manifest.js';
import { planIndex, type ModelIdentity } from './plan.js';
import type { GalleryEntry } from './store.js';

const model: ModelIdentity = { id: 'm-1', weightsHash: 'a'.repeat(64), dim: 2, metric: 'l2', normalized: true };
const params = { M: 16, efConstruction: 200, ef: 100, randomSeed: 100 };
const sha = (c: string): string => c.repeat(64);

function entry(identity: string, file: string, hash: string): GalleryEntry {
  return { identity, origin: 'folder', source: `${identity}/${file}`, sha256: sha(hash), size: 10, path: `/g/${identity}/${file}` };
}

function manifestOf(entries: GalleryEntry[], overrides: Partial<Manifest> = {}): Manifest {
  return {
    format: 1,
    version: 'v000001-20261128T000000Z',
    parent: null,
    createdAt: '2026-11-28T00:00:00Z',
    model: { id: model.id, weightsHash: model.weightsHash },
    dim: 2,
    metric: 'l2',
    normalized: true,
    space: 'l2',
    hnsw: { ...params, maxElements: 10, points: entries.length, nextLabel: entries.length, deletedLabels: [] },
    counts: { images: entries.length, identities: new Set(entries.map((e) => e.identity)).size, deleted: 0 },
    build: { mode: 'full', reason: '', added: 0, changed: 0, removed: 0, unchanged: 0, embedded: 0, seconds: 0 },
    gallery: { root: '/g', store: '/g/.twinsearch', journalSeq: 0 },
    entries: entries.map((e, label) => ({ label, identity: e.identity, origin: e.origin, source: e.source, sha256: e.sha256, size: e.size })),
    ...overrides,
  };
}

const base = [entry('a', '1.png', '1'), entry('a', '2.png', '2'), entry('b', '1.png', '3'), entry('b', '2.png', '4'), entry('c', '1.png', '5')];

describe('planIndex', () => {
  it('embeds everything on a first build', () => {
    const plan = planIndex(base, null, model, params);
    expect(plan.mode).toBe('full');
    expect(plan.counts).toEqual({ added: 5, changed: 0, removed: 0, unchanged: 0, embedded: 5 });
    expect(plan.entries.map((p) => p.label)).toEqual([0, 1, 2, 3, 4]);
  });

  it('detects added, changed, removed and unchanged images and embeds only new bytes', () => {
    const previous = manifestOf(base);
    const next = [entry('a', '1.png', '1'), entry('a', '2.png', '9'), entry('b', '1.png', '3'), entry('c', '1.png', '5'), entry('d', '1.png', '8')];
    // 2 of 7 points deleted: allow it, so the graph is updated in place.
    const plan = planIndex(next, previous, model, params, { maxDeletedFraction: 0.5 });
    expect(plan.mode).toBe('incremental');
    expect(plan.counts).toEqual({ added: 1, changed: 1, removed: 1, unchanged: 3, embedded: 2 });
    expect(plan.toEmbed.map((e) => e.source).sort()).toEqual(['a/2.png', 'd/1.png']);
    // Old labels of the changed and removed images are deleted; unchanged keep theirs; new ones get fresh labels.
    expect(plan.deleteLabels.sort()).toEqual([1, 3]);
    expect(plan.entries.map((p) => [p.entry.source, p.label])).toEqual([
      ['a/1.png', 0],
      ['b/1.png', 2],
      ['c/1.png', 4],
      ['a/2.png', 5],
      ['d/1.png', 6],
    ]);
    expect(plan.nextLabel).toBe(7);
  });

  it('reuses the vector of known bytes under a new name (rename costs no embedding)', () => {
    const previous = manifestOf(base);
    const renamed = base.map((e) => (e.source === 'c/1.png' ? entry('c', 'renamed.png', '5') : e));
    const plan = planIndex(renamed, previous, model, params);
    expect(plan.counts).toMatchObject({ added: 1, removed: 1, embedded: 0 });
    const moved = plan.entries.find((p) => p.entry.source === 'c/renamed.png');
    expect(moved?.vector).toEqual({ from: 'previous', row: 4 });
  });

  it('forces a full build (no reuse) when the model changed', () => {
    const previous = manifestOf(base);
    const plan = planIndex(base, previous, { ...model, id: 'm-2', weightsHash: 'b'.repeat(64) }, params);
    expect(plan.mode).toBe('full');
    expect(plan.reason).toMatch(/model changed/);
    expect(plan.counts.embedded).toBe(5);
    expect(plan.counts.unchanged).toBe(5);
    expect(plan.entries.every((p) => p.vector.from === 'embed')).toBe(true);
  });

  it('forces a full build when only the weights changed under the same id', () => {
    const plan = planIndex(base, manifestOf(base), { ...model, weightsHash: 'c'.repeat(64) }, params);
    expect(plan.mode).toBe('full');
  });

  it('rebuilds the graph, reusing vectors, when deleted points would pass the threshold', () => {
    const previous = manifestOf(base);
    const plan = planIndex(base.slice(0, 3), previous, model, params, { maxDeletedFraction: 0.2 });
    expect(plan.mode).toBe('rebuild');
    expect(plan.reason).toMatch(/40\.0%/);
    expect(plan.counts.embedded).toBe(0);
    expect(plan.entries.map((p) => p.label)).toEqual([0, 1, 2]);
    const lenient = planIndex(base.slice(0, 3), previous, model, params, { maxDeletedFraction: 0.5 });
    expect(lenient.mode).toBe('incremental');
  });

  it('counts deletions already in the graph towards the threshold', () => {
    const previous = manifestOf(base, {});
    previous.hnsw = { ...previous.hnsw, points: 7, nextLabel: 7, deletedLabels: [5, 6] };
    previous.counts = { ...previous.counts, deleted: 2 };
    // 2 old dead + 1 new dead of 7 points = 43% > 20%.
    const plan = planIndex(base.slice(0, 4), previous, model, params);
    expect(plan.mode).toBe('rebuild');
    const quiet = planIndex(base, previous, model, params, { maxDeletedFraction: 0.3 });
    expect(quiet.mode).toBe('incremental');
    expect(quiet.keptDeletedLabels).toEqual([5, 6]);
  });

  it('rebuilds when M or efConstruction change, but not for ef alone', () => {
    const previous = manifestOf(base);
    expect(planIndex(base, previous, model, { ...params, M: 32 }).mode).toBe('rebuild');
    expect(planIndex(base, previous, model, { ...params, ef: 400 }).mode).toBe('incremental');
  });

  it('embeds identical bytes only once', () => {
    const twins = [entry('a', '1.png', '7'), entry('b', '1.png', '7')];
    const plan = planIndex(twins, null, model, params);
    expect(plan.toEmbed).toHaveLength(1);
    expect(plan.entries.map((p) => p.vector)).toEqual([
      { from: 'embed', index: 0 },
      { from: 'embed', index: 0 },
    ]);
  });

  it('rejects a gallery listing the same image twice', () => {
    expect(() => planIndex([base[0], base[0]], null, model, params)).toThrow(/twice/);
  });
});
