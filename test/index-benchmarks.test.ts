/**
 * Smoke runs of the index benchmarks (`npm run bench -- index-recall | index-synthetic`) and the
 * re-index crash test (scripts/faults/crash.ts): tiny sizes, checking that they run end to end and
 * report sane numbers. The real runs' numbers are in bench/results/.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeResults } from '../scripts/bench/common.js';
import { FASHION_MNIST_DIR, randomModel } from '../scripts/bench/data.js';
import { embedFashionMnist } from '../scripts/bench/embeddings.js';
import { recallMarkdown, runRecallBench } from '../scripts/bench/index-recall.js';
import { runSyntheticBench, syntheticMarkdown } from '../scripts/bench/index-synthetic.js';
import { crashMarkdown, runCrashTest } from '../scripts/faults/crash.js';

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

  // .ci/run installs the dataset-fashion-mnist package.
  it.runIf(existsSync(FASHION_MNIST_DIR))('recall: Fashion-MNIST embeddings come from the cache the second time, and a cut-short cache is embedded again', async () => {
    const model = await randomModel(await mkdtemp(join(tmpdir(), 'bench-model-')));
    const cacheDir = await mkdtemp(join(tmpdir(), 'bench-cache-'));
    const quiet = (): void => {};
    const first = await embedFashionMnist(model, 300, 0, quiet, cacheDir);
    expect(first.embed).not.toBeNull();
    expect(first.vectors).toHaveLength(300 * first.dim);
    const second = await embedFashionMnist(model, 300, 0, quiet, cacheDir);
    expect(second.embed).toBeNull();
    expect(second.vectors).toEqual(first.vectors);
    // Another count is another cache entry, not a slice of this one.
    expect((await embedFashionMnist(model, 200, 0, quiet, cacheDir)).embed).not.toBeNull();
    const files = await readdir(cacheDir);
    expect(files).toHaveLength(2);
    // A file cut mid-vector is not trusted: the vectors are embedded again, the same ones.
    for (const file of files) await truncate(join(cacheDir, file), (await stat(join(cacheDir, file))).size - 6);
    const third = await embedFashionMnist(model, 300, 0, quiet, cacheDir);
    expect(third.embed).not.toBeNull();
    expect(third.vectors).toEqual(first.vectors);
  });

  it('synthetic: build, memory, recall and speed', async () => {
    const r = await runSyntheticBench({ count: 3000, dim: 16, M: 16, efConstruction: 100, efs: [50, 200], queries: 30, k: 10, distribution: 'clustered', seed: 2 });
    expect(r.buildSeconds).toBeGreaterThan(0);
    expect(r.fileMiB).toBeGreaterThan(0);
    expect(r.rows.at(-1)?.recall).toBeGreaterThan(0.95);
    expect(syntheticMarkdown(r, 'smoke')).toContain('| 200 |');
  });
});

describe('crash safety (a few SIGKILLs)', () => {
  it('CURRENT verifies after every kill and the next run completes', async () => {
    const r = await runCrashTest({ kills: 3, images: 60, seed: 7 });
    expect(r.records).toHaveLength(3);
    expect(r.allVerified).toBe(true);
    expect(r.allCompleted).toBe(true);
    expect(crashMarkdown(r)).toContain('CURRENT verified after every kill: **true**');
  }, 120_000);
});
