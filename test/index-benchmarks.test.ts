/**
 * Smoke runs of the index benchmark and crash scripts (scripts/index-*.ts): tiny sizes, checking
 * that they run end to end and report sane numbers. The real runs and their numbers are in
 * docs/index.md.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCrashTest } from '../scripts/index-crash.js';
import { writeResults } from '../scripts/bench-common.js';
import { recallMarkdown, runRecallBench } from '../scripts/index-bench-recall.js';
import { reindexMarkdown, runReindexBench } from '../scripts/index-bench-reindex.js';
import { runSyntheticBench, syntheticMarkdown } from '../scripts/index-bench-synthetic.js';

describe('index benchmark scripts (smoke)', () => {
  it('recall: HNSW vs exact over an ef sweep', async () => {
    const r = await runRecallBench({ limit: 0, queries: 50, ms: [8, 16], efConstruction: 100, efs: [10, 100], k: 10, workers: 0, seed: 1, synthetic: { count: 2000, dim: 16 } });
    expect(r.rows).toHaveLength(4);
    for (const row of r.rows) expect(row.recall).toBeGreaterThan(0.5);
    // More candidates never find fewer true neighbours here.
    expect(r.rows[1].recall).toBeGreaterThanOrEqual(r.rows[0].recall);
    expect(r.rows.find((x) => x.M === 16 && x.ef === 100)?.recall).toBeGreaterThan(0.98);
    const dir = await mkdtemp(join(tmpdir(), 'bench-out-'));
    const [json] = await writeResults(dir, 'index-recall', r, recallMarkdown(r, 'smoke'));
    expect(JSON.parse(await readFile(json, 'utf8')).result.count).toBe(2000);
  });

  it('synthetic: build, memory, recall and speed', async () => {
    const r = await runSyntheticBench({ count: 3000, dim: 16, M: 16, efConstruction: 100, efs: [50, 200], queries: 30, k: 10, distribution: 'clustered', seed: 2 });
    expect(r.buildSeconds).toBeGreaterThan(0);
    expect(r.fileMiB).toBeGreaterThan(0);
    expect(r.rows.at(-1)?.recall).toBeGreaterThan(0.95);
    expect(syntheticMarkdown(r, 'smoke')).toContain('| 200 |');
  });

  it('re-index vs full build', async () => {
    const r = await runReindexBench({ images: 200, change: 0.05, workers: 0, seed: 3, tiny: true });
    expect(r.full).toMatchObject({ mode: 'full', embedded: 200 });
    expect(r.noChange).toMatchObject({ embedded: 0, unchanged: 200 });
    expect(r.changed).toMatchObject({ changed: 6, added: 2, removed: 2, embedded: 8 });
    expect(reindexMarkdown(r, 'smoke')).toMatch(/of the full build time/);
  });
});

describe('crash safety (a few SIGKILLs)', () => {
  it('CURRENT verifies after every kill and the next run completes', async () => {
    const r = await runCrashTest({ kills: 3, images: 60, seed: 7 });
    expect(r.records).toHaveLength(3);
    expect(r.allVerified).toBe(true);
    expect(r.allCompleted).toBe(true);
  });
});
