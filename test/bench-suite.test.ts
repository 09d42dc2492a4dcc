/**
 * Smoke runs of the benchmark suite's commands (scripts/bench-*.ts): tiny sizes and short timings,
 * checking that each runs end to end, measures what it claims and writes its section. The real
 * runs and their numbers are in docs/benchmarks.md.
 */
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { annMarkdown, recommend, runAnnBench, type AnnDatasetResult } from '../scripts/bench-ann.js';
import { writeResults } from '../scripts/bench-common.js';
import { embedMarkdown, runEmbedBench } from '../scripts/bench-embed.js';
import { assembleBenchmarksDoc, checkTargets, demoteHeadings, sectionContext, versions } from '../scripts/bench-report.js';
import { coldstartMarkdown, reindexSection, runColdstartBench } from '../scripts/bench-wrappers.js';
import { runReindexBench } from '../scripts/index-bench-reindex.js';

const dirs: string[] = [];
const tempDir = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-suite-'));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('npm run bench -- embed (smoke)', () => {
  it('measures images/s and GFLOP/s per batch next to a matmul peak, and reports a missing backend', async () => {
    const r = await runEmbedBench({ backends: ['wasm', 'no-such-backend'], batches: [1, 4], seconds: 0.1, cpuSeconds: 0.1 });
    expect(r.measured).toHaveLength(1);
    const [wasm] = r.measured;
    expect(wasm.backend).toBe('wasm');
    expect(wasm.tower.flopsPerImage).toBeGreaterThan(1e6);
    expect(wasm.rows.map((x) => x.batch)).toEqual([1, 4]);
    for (const row of wasm.rows) {
      expect(row.imagesPerSecond).toBeGreaterThan(0);
      // GFLOP/s is images/s times the tower's FLOPs, not a separate guess.
      expect(row.gflops).toBeCloseTo((row.imagesPerSecond * wasm.tower.flopsPerImage) / 1e9, 6);
    }
    expect(wasm.peakGflops).toBe(Math.max(...wasm.matmul.map((m) => m.gflops)));
    expect(r.skipped).toEqual([expect.objectContaining({ backend: 'no-such-backend' })]);
    const md = embedMarkdown(r);
    expect(md).toMatch(/^## embed/);
    expect(md).toContain('| wasm | 4 |');
    expect(md).toContain('Versions: node');
  }, 60_000);
});

describe('npm run bench -- ann (smoke)', () => {
  it('builds hnswlib and usearch on the same vectors, sweeps ef, scores recall against the exact scan and plots the curve', async () => {
    const out = await tempDir();
    const r = await runAnnBench({
      datasets: ['tiny'], engines: ['hnswlib', 'usearch', 'usearch-exact'], ms: [16], syntheticMs: [16], efConstruction: 100,
      efs: [4, 100], k: 10, queries: 100, syntheticCount: 0, syntheticQueries: 0, workers: 0, seed: 1, tinyCount: 2000, plotDir: out,
    });
    const [d] = r.datasets;
    expect(d).toMatchObject({ name: 'tiny', count: 1900, queries: 100, dim: 16 });
    expect(d.engines.map((e) => e.engine)).toEqual(['hnswlib', 'usearch', 'usearch-exact']);
    for (const e of d.engines.slice(0, 2)) {
      expect(e.count).toBe(1900);
      expect(e.fileMiB).toBeGreaterThan(0);
      expect(e.rows.map((p) => p.ef)).toEqual([4, 100]);
      // A wider search finds at least as many true neighbours, and ef 100 finds nearly all.
      expect(e.rows[1].recall).toBeGreaterThanOrEqual(e.rows[0].recall);
      expect(e.rows[1].recall).toBeGreaterThan(0.98);
    }
    // usearch's brute-force scan agrees with twinsearch's JS scan (the truth).
    expect(d.engines[2].rows[0].recall).toBeGreaterThan(0.999);
    expect(r.defaults.perDataset).toEqual([expect.objectContaining({ dataset: 'tiny', recall: d.engines[0].rows[1].recall })]);
    expect((await stat(join(out, 'ann-recall-qps.png'))).size).toBeGreaterThan(1000);
    expect(await readFile(join(out, 'ann-recall-qps.svg'), 'utf8')).toContain('<svg');
    const md = annMarkdown(r, out);
    expect(md).toContain('| usearch M=16 | 100 |');
    expect(md).toContain('![recall/QPS curves](ann-recall-qps.png)');
    const [json] = await writeResults(out, 'ann', r, md);
    expect(JSON.parse(await readFile(json, 'utf8')).result.datasets[0].engines).toHaveLength(3);
  }, 90_000);

  it('recommends, per target recall, the fastest point of each engine that reaches it', () => {
    const point = (ef: number, recall: number, qps: number) => ({ ef, recall, qps, msPerQuery: 1000 / qps });
    const engine = (name: 'hnswlib' | 'usearch', rows: ReturnType<typeof point>[]) => ({
      engine: name, M: 16, efConstruction: 200, count: 10, buildSeconds: 1, insertsPerSecond: 10, buildRssMiB: 1, rssAfterMiB: 1, fileMiB: 1, saveSeconds: 0, loadSeconds: 0, rows,
    });
    const d: AnnDatasetResult = {
      name: 'tiny', description: '', count: 10, dim: 2, queries: 1, embedSeconds: null, exact: { qps: 100, msPerQuery: 10 },
      engines: [engine('hnswlib', [point(10, 0.95, 9000), point(40, 0.992, 5000), point(100, 0.9995, 2000)]), engine('usearch', [point(10, 0.97, 8000), point(40, 0.985, 6000)])],
    };
    const [at99, at999] = recommend([d], [0.99, 0.999]);
    expect(at99.perDataset).toEqual([expect.objectContaining({ engine: 'hnswlib', ef: 40, qps: 5000, vsExact: 50 })]);
    expect(at999.perDataset.map((p) => p.ef)).toEqual([100]);
  });
});

describe('npm run bench -- coldstart and reindex (smoke)', () => {
  it('coldstart: a fresh server and a fresh Lambda process each answer /v1/search', async () => {
    const work = await tempDir();
    const r = await runColdstartBench({ images: [60], workers: [0], coldStarts: 1, work, tiny: true });
    expect(r.rows).toHaveLength(1);
    expect(r.rows[0].adapterMs[0]).toBeGreaterThan(0);
    expect(r.rows[0].lambdaMs[0]).toBeGreaterThan(0);
    expect(coldstartMarkdown(r)).toMatch(/\| 60 \| serving thread \|/);
  }, 120_000);

  it('reindex: the existing benchmark under the suite header, with images/s', async () => {
    const r = await runReindexBench({ images: 100, change: 0.05, workers: 0, seed: 3, tiny: true });
    const md = reindexSection(r, sectionContext('npm run bench -- reindex --images 100'));
    expect(md).toMatch(/^## reindex/);
    expect(md).toContain('### Re-index vs full build: 100 images');
    expect(md).toMatch(/Images\/s: full build [\d,]+/);
  }, 60_000);
});

describe('docs/benchmarks.md assembly', () => {
  it('strings the sections together in order, wraps old-style results, and lists what has not run', async () => {
    const results = await tempDir();
    await writeFile(join(results, 'embed.md'), '## embed: tower throughput vs the matmul peak\n\nnumbers\n');
    await writeFile(join(results, 'index-reindex.md'), '# Re-index vs full build\n\nold table\n');
    await writeFile(join(results, 'index-reindex.json'), JSON.stringify({ measuredAt: '2026-01-02T03:04:05Z', machine: { cpu: 'X', cores: 2, memGiB: 1, node: 'v20', loadavg: [1, 2, 3] } }));
    const doc = join(results, 'benchmarks.md');
    const text = await assembleBenchmarksDoc(results, doc);
    expect(await readFile(doc, 'utf8')).toBe(text);
    expect(text.indexOf('## embed')).toBeLessThan(text.indexOf('## ann'));
    expect(text).toContain('Not run yet: `npm run bench -- ann`.');
    expect(text).toContain('### Re-index vs full build');
    expect(text).toContain('Stored 2026-01-02T03:04Z on X, 2 cores');
  });

  it('checks the issue\'s targets against stored results', async () => {
    const results = await tempDir();
    const save = (name: string, result: unknown) => writeFile(join(results, `${name}.json`), JSON.stringify({ result }));
    await save('api-bench', { servers: [{ workers: 0, runs: [{ connections: 16, p50: 8, p99: 25, errors: 0, non2xx: 0 }] }] });
    const hnsw = { engine: 'hnswlib', M: 16, rows: [{ ef: 40, recall: 0.985, qps: 9000 }, { ef: 100, recall: 0.995, qps: 4000 }] };
    const usearch = { engine: 'usearch', M: 16, rows: [{ ef: 40, recall: 0.99, qps: 8000 }, { ef: 100, recall: 0.997, qps: 5000 }] };
    await save('ann', { defaults: { M: 16, ef: 100 }, datasets: [{ name: 'synthetic', count: 1_000_000, exact: { qps: 100 }, engines: [hnsw, usearch] }] });
    const [http, big, defaults, embed] = await checkTargets(results);
    expect(http.met).toBe(true);
    expect(big).toMatchObject({ met: true });
    expect(big.measured).toContain('ef 100: recall 0.9950 at 4,000 q/s = 40x');
    // usearch reaches >= 0.995 at 5,000 q/s, faster than hnswlib's 4,000 at the defaults.
    expect(defaults).toMatchObject({ met: false });
    expect(embed).toMatchObject({ met: null, measured: 'not run' });
    const openSet = async (known: number, strangers: number) => {
      await save('open-set', { known: { rate: known, probes: 150 }, strangers: { rate: strangers, probes: 100 }, threshold: { value: 0.48 } });
      return (await checkTargets(results)).find((c) => c.target.startsWith('open set'))!;
    };
    expect(await openSet(0.987, 0.01)).toMatchObject({ met: true, measured: '98.7% of 150 known, 1.0% of 100 strangers at 0.4800' });
    expect((await openSet(0.96, 0.01)).met).toBe(false);
    expect((await openSet(0.99, 0.02)).met).toBe(false);
  });

  it('demotes headings outside code fences only, and names installed versions', () => {
    expect(demoteHeadings('# A\n```\n# not a heading\n```\n## B')).toBe('### A\n```\n# not a heading\n```\n#### B');
    const v = versions();
    expect(v['hnswlib-node']).toMatch(/^\d+\.\d+\.\d+$/);
    expect(v['@tensorflow/tfjs-node']).toBeDefined();
  });
});
