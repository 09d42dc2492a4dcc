/**
 * Smoke runs of the benchmark suite's commands (scripts/bench/): tiny sizes and short timings,
 * checking that each runs end to end, measures what it claims and writes its markdown; and the
 * index page docs/benchmarks.md, written from stored results. The real runs' numbers are in
 * bench/results/.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recommend, runAnnBench, type AnnDatasetResult } from '../scripts/bench/ann.js';
import { annMarkdown } from '../scripts/bench/ann-report.js';
import { BENCHMARKS } from '../scripts/bench/catalogue.js';
import { coldstartMarkdown, runColdstartBench } from '../scripts/bench/coldstart.js';
import { writeResults } from '../scripts/bench/common.js';
import { MEASURED_PACKAGES, RESULTS_DIR, REPO_ROOT, sectionContext, versions } from '../scripts/bench/context.js';
import { embedMarkdown, runEmbedBench } from '../scripts/bench/embed.js';
import { assembleBenchmarksDoc } from '../scripts/bench/index-page.js';
import { reindexMarkdown, runReindexBench } from '../scripts/bench/reindex.js';
import { checkTargets } from '../scripts/bench/targets.js';

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

  it('reindex: a full build, a re-index of nothing, a re-index after the change; the suite header and images/s', async () => {
    const r = await runReindexBench({ images: 200, change: 0.05, workers: 0, seed: 3, tiny: true });
    expect(r.full).toMatchObject({ mode: 'full', embedded: 200 });
    expect(r.noChange).toMatchObject({ embedded: 0, unchanged: 200 });
    expect(r.changed).toMatchObject({ changed: 6, added: 2, removed: 2, embedded: 8 });
    const md = reindexMarkdown(r, sectionContext('npm run bench -- reindex --images 200'));
    expect(md).toMatch(/^## reindex/);
    expect(md).toContain('### Re-index vs full build: 200 images');
    expect(md).toContain('| re-index after changing 5% | incremental | 2 | 6 | 2 | 8 |');
    expect(md).toMatch(/\*\*Re-index after 5% changed: [\d.]+% of the full build time\*\*/);
    expect(md).toMatch(/Images\/s: full build [\d,]+/);
  }, 60_000);
});

describe('docs/benchmarks.md: the index page', () => {
  const stored = (result: unknown, measuredAt = '2026-01-02T03:04:05Z') => JSON.stringify({ measuredAt, result });
  const embedResult = { measured: [{ backend: 'wasm', peakGflops: 40, rows: [{ batch: 1, imagesPerSecond: 1000, gflops: 20 }, { batch: 64, imagesPerSecond: 2015, gflops: 39.6 }] }] };
  const row = (page: string, name: string): string => page.split('\n').find((l) => l.startsWith(`| ${name} |`)) ?? '';

  it('gives each benchmark one row (what, headline, date, command, link) and copies none of its tables', async () => {
    const root = await tempDir();
    const results = join(root, 'bench', 'results');
    await mkdir(results, { recursive: true });
    await writeFile(join(results, 'embed.json'), stored(embedResult));
    await writeFile(join(results, 'embed.md'), '## embed: tower throughput\n\n| backend | batch |\n|---:|---:|\n| wasm | 64 (only in embed.md) |\n');
    await writeFile(join(results, 'custom-run.json'), stored({ anything: 1 }, '2026-02-03T00:00:00Z'));
    await writeFile(join(results, 'custom-run.md'), '# Custom run: other numbers\n\n| a |\n|---|\n| 1 |\n');
    await writeFile(join(results, 'analysis.md'), '## Reading these results\n\nprose\n');
    await mkdir(join(root, 'docs'));
    const doc = join(root, 'docs', 'benchmarks.md');
    const page = await assembleBenchmarksDoc(results, doc);
    expect(await readFile(doc, 'utf8')).toBe(page);
    expect(row(page, 'embed')).toBe('| embed | tower images/s per backend and batch size; GFLOP/s vs a matmul peak on the same backend | wasm: 2,015 images/s at batch 64, 1.0x below its matmul peak | 2026-01-02 | `npm run bench -- embed` | [embed.md](../bench/results/embed.md) |');
    expect(row(page, 'ann')).toBe('| ann | build time, memory, queries/s and recall@10 across ef: hnswlib-node (twinsearch) vs usearch vs exact scan | not run yet |  | `npm run bench -- ann` |  |');
    // A results file the catalogue does not know still gets its row, titled by its heading.
    expect(row(page, 'custom-run')).toBe('| custom-run | Custom run: other numbers | — | 2026-02-03 |  | [custom-run.md](../bench/results/custom-run.md) |');
    expect(page).not.toContain('only in embed.md');
    expect(page).not.toContain('| backend | batch |');
    expect(page).toContain('[bench/results/analysis.md](../bench/results/analysis.md)');
    // One row per catalogued benchmark, run or not, in the catalogue's order.
    const names = page.split('\n').filter((l) => /^\| [\w-]+ \|/.test(l) && !l.startsWith('| benchmark |')).map((l) => l.split(' | ')[0].slice(2));
    expect(names.slice(0, BENCHMARKS.length)).toEqual(BENCHMARKS.map((b) => b.name));
  });

  it('finds a headline in every result stored in the repository', async () => {
    const page = await assembleBenchmarksDoc(RESULTS_DIR, join(await tempDir(), 'benchmarks.md'));
    for (const b of BENCHMARKS) {
      const json = await readFile(join(RESULTS_DIR, `${b.name}.json`), 'utf8').catch(() => null);
      if (json === null) continue;
      const headline = row(page, b.name).split(' | ')[2] ?? '';
      expect(headline, b.name).not.toMatch(/^(—|not run yet)?$/);
    }
  });

  it('checks the speed targets against stored results', async () => {
    const results = await tempDir();
    const save = (name: string, result: unknown) => writeFile(join(results, `${name}.json`), JSON.stringify({ result }));
    await save('http', { servers: [{ workers: 0, runs: [{ connections: 16, p50: 8, p99: 25, errors: 0, non2xx: 0 }] }] });
    const hnsw = { engine: 'hnswlib', M: 16, rows: [{ ef: 40, recall: 0.985, qps: 9000 }, { ef: 100, recall: 0.995, qps: 4000 }] };
    const usearch = { engine: 'usearch', M: 16, rows: [{ ef: 40, recall: 0.99, qps: 8000 }, { ef: 100, recall: 0.997, qps: 5000 }] };
    await save('ann', { defaults: { M: 16, ef: 100 }, datasets: [{ name: 'synthetic', count: 1_000_000, exact: { qps: 100 }, engines: [hnsw, usearch] }] });
    const [http, big, defaults, embed] = await checkTargets(results);
    expect(http).toMatchObject({ benchmark: 'http', met: true });
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

  it('names the installed version of each package, and `absent` for one that is not installed', async () => {
    const pinned = (JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies;
    expect(versions(['hnswlib-node', 'sharp', 'no-such-package-for-twinsearch'])).toEqual({
      node: process.version,
      'hnswlib-node': pinned['hnswlib-node'],
      sharp: pinned.sharp,
      'no-such-package-for-twinsearch': 'absent',
    });
    expect(Object.keys(versions())).toEqual(['node', ...MEASURED_PACKAGES]);
  });
});
