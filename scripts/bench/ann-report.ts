/** The ANN benchmark's markdown (bench/results/ann.md): the curves per dataset and which defaults they support. */
import { relative } from 'node:path';
import { table } from './common.js';
import { REPO_ROOT, RESULTS_DIR, sectionHeader } from './context.js';
import { engineLabel } from './ann-plot.js';
import type { AnnBenchResult } from './ann.js';
import { n0 } from './results.js';

/** The markdown of a run (plot paths relative to `mdDir`, the folder the markdown is written to). */
export function annMarkdown(r: AnnBenchResult, mdDir = RESULTS_DIR): string {
  const out: string[] = [
    sectionHeader('ann: hnswlib-node vs usearch vs exact scan', r.context),
    `Same vectors for every engine. Real sets are embedded by ${r.model.source} (model ${r.model.id}); each set is split by a seeded shuffle into held-out queries and indexed vectors.`,
    `HNSW engines: M as listed, efConstruction ${r.efConstruction}, squared-L2 space, built on **one thread** (hnswlib-node's \`addPoint\` is single-threaded; usearch is given 1 thread to match),`,
    `queried **one query per call on one thread**, k = ${r.k} (how the server asks). hnswlib-node runs through twinsearch's own src/index/hnsw.ts. Each engine runs in its own process;`,
    '"RSS +MiB" is its resident-memory growth over the build (after a GC). Exact scans: twinsearch\'s JS scan (src/index/exact.ts, which also gives the ground truth) and usearch\'s SIMD `exactSearch` (1 thread, all queries in one call).',
    '',
  ];
  if (r.plot.length) {
    const png = r.plot.find((p) => p.endsWith('.png'));
    if (png) out.push(`![recall/QPS curves](${relative(mdDir, png)}) (SVG: \`${relative(REPO_ROOT, r.plot.find((p) => p.endsWith('.svg')) ?? '')}\`)`, '');
  }
  for (const d of r.datasets) {
    out.push(`### ${d.name}: ${d.count.toLocaleString('en-US')} x ${d.dim}-d, ${d.queries.toLocaleString('en-US')} queries`, '', `${d.description}.${d.embedSeconds ? ` Embedding took ${d.embedSeconds.toFixed(1)} s.` : ''}`, '');
    out.push(`Exact scan (JS, twinsearch): **${n0(d.exact.qps)} queries/s** (${d.exact.msPerQuery.toFixed(2)} ms/query).`, '');
    const built = d.engines.filter((e) => e.engine !== 'usearch-exact');
    out.push(
      table(built.map((e) => ({ engine: e.engine, M: e.M, 'build s': e.buildSeconds.toFixed(1), 'inserts/s': n0(e.insertsPerSecond), 'RSS +MiB': n0(e.buildRssMiB), 'file MiB': e.fileMiB.toFixed(1), 'load s': e.loadSeconds.toFixed(2) }))),
      '',
    );
    const curve = d.engines.flatMap((e) =>
      e.rows.map((p) => ({
        engine: engineLabel(e),
        ef: e.engine === 'usearch-exact' ? '-' : p.ef,
        [`recall@${r.k}`]: p.recall.toFixed(4),
        'queries/s': n0(p.qps),
        'ms/query': p.msPerQuery.toFixed(3),
        'vs exact (JS)': `${(p.qps / d.exact.qps).toFixed(1)}x`,
        'batched q/s': p.batchQps ? n0(p.batchQps) : '-',
      })),
    );
    out.push(table(curve), '');
  }
  const missing = r.requested.filter((name) => !r.datasets.some((d) => d.name === name));
  if (missing.length) out.push(`Not finished in this run: ${missing.join(', ')} (the results above were saved as each dataset finished).`, '');
  out.push('### Which defaults the curve supports', '');
  for (const rec of r.recommendations) {
    out.push(`Fastest measured point reaching recall@${r.k} >= ${rec.target}:`, '');
    out.push(
      rec.perDataset.length
        ? table(rec.perDataset.map((p) => ({ dataset: p.dataset, engine: p.engine, M: p.M, ef: p.ef, [`recall@${r.k}`]: p.recall.toFixed(4), 'queries/s': n0(p.qps), 'vs exact (JS)': `${p.vsExact.toFixed(0)}x` })))
        : 'No engine reached it at the ef values measured.',
      '',
    );
  }
  const d = r.defaults;
  out.push(
    `twinsearch's defaults (src/index/hnsw.ts \`DEFAULT_HNSW_PARAMS\`): M ${d.M}, efConstruction ${d.efConstruction}, ef ${d.ef}. Measured with hnswlib-node in this run:`,
    '',
    d.perDataset.length
      ? table(d.perDataset.map((p) => ({ dataset: p.dataset, [`recall@${r.k}`]: p.recall.toFixed(4), 'queries/s': n0(p.qps), 'vs exact (JS)': `${p.vsExact.toFixed(0)}x` })))
      : `(not measured: the run did not include M ${d.M} with ef ${d.ef})`,
    '',
  );
  return out.join('\n');
}

