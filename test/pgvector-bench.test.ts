/**
 * Smoke run of the store benchmark (scripts/bench/pgvector.ts): a few thousand vectors, a tiny
 * gallery and model, two-second HTTP runs. The real run and its numbers: docs/scale.md and
 * bench/results/pgvector.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runStoreBench, storeBenchMarkdown } from '../scripts/bench/pgvector.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('store benchmark (smoke)', () => {
  it('measures both stores on the same vectors, and serves /v1/search with each with no failed request while a generation is published', async () => {
    const work = await mkdtemp(join(tmpdir(), 'stores-bench-'));
    dirs.push(work);
    const r = await runStoreBench({ count: 1500, dim: 16, fashion: 0, queries: 30, efs: [40, 200], k: 10, M: 16, efConstruction: 64, exactQueries: 5, enrolments: 5, httpImages: 60, seconds: 2, connections: 4, work, tiny: true });
    const [set] = r.vectors;
    expect(set.runs.map((e) => e.store)).toEqual(['local', 'pgvector']);
    for (const e of set.runs) {
      expect(e.rows.at(-1)?.recall).toBeGreaterThanOrEqual(0.99);
      expect(e.buildSeconds).toBeGreaterThan(0);
      expect(e.enrolPerSecond).toBeGreaterThan(0);
    }
    expect(set.runs[1].exact?.recall).toBe(1);
    expect(r.http?.load.map((l) => [l.store, l.failed])).toEqual([['local', 0], ['pgvector', 0]]);
    expect(r.http?.publish.map((p) => [p.store, p.what])).toEqual([
      ['local', 're-index (build + publish)'],
      ['pgvector', 're-index (build + publish)'],
      ['pgvector', 'publish only (generation built beforehand)'],
    ]);
    for (const p of r.http?.publish ?? []) {
      expect(p.failed).toBe(0);
      expect(p.after).not.toBe(p.before);
    }
    const markdown = storeBenchMarkdown(r, 'smoke', [0, 0, 0]);
    expect(markdown).toContain('| 200 |');
    expect(markdown).toMatch(/\| pgvector \| 4 \|/);
  }, 240_000);
});
