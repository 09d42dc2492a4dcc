/** The ANN benchmark's recall/QPS curves, one panel per dataset, as SVG and PNG (vega-lite, rendered by sharp). */
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { AnnChildResult } from './ann-child.js';
import type { AnnDatasetResult } from './ann.js';

/** How an engine run is named in the plot and the tables. */
export const engineLabel = (e: AnnChildResult): string => (e.engine === 'usearch-exact' ? 'usearch exact scan (SIMD)' : `${e.engine} M=${e.M}`);

/** The recall/QPS curves, one panel per dataset, as SVG and PNG. */
export async function annPlot(datasets: AnnDatasetResult[], k: number): Promise<{ svg: string; png: Buffer }> {
  const values = datasets.flatMap((d) => [
    ...d.engines.flatMap((e) => e.rows.map((p) => ({ dataset: `${d.name} (${d.count.toLocaleString('en-US')})`, series: engineLabel(e), recall: p.recall, qps: p.qps, ef: p.ef }))),
    { dataset: `${d.name} (${d.count.toLocaleString('en-US')})`, series: 'exact scan (JS, twinsearch)', recall: 1, qps: d.exact.qps, ef: 0 },
  ]);
  const spec = {
    title: { text: `Recall@${k} vs queries/s (one query per call, one thread)`, subtitle: 'each point an ef; up and to the right is better', anchor: 'start' },
    data: { values },
    facet: { field: 'dataset', type: 'nominal', title: null },
    columns: Math.min(3, datasets.length),
    spec: {
      width: 300,
      height: 240,
      mark: { type: 'line', point: { filled: true, size: 40 }, strokeWidth: 1.5 },
      encoding: {
        x: { field: 'recall', type: 'quantitative', title: `recall@${k}`, scale: { zero: false } },
        y: { field: 'qps', type: 'quantitative', title: 'queries/s (log)', scale: { type: 'log' } },
        color: { field: 'series', type: 'nominal', title: null },
        order: { field: 'ef', type: 'quantitative' },
        tooltip: [{ field: 'series' }, { field: 'ef' }, { field: 'recall' }, { field: 'qps' }],
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    config: { font: 'DejaVu Sans', background: 'white', padding: 12, legend: { orient: 'right', labelLimit: 300 } },
  } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return { svg, png: await sharp(Buffer.from(svg), { density: 144 }).png().toBuffer() };
  } finally {
    view.finalize();
  }
}

