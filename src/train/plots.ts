/**
 * Training and calibration plots: loss curves, pair-distance histograms and ROC curves, drawn as
 * vega-lite specs, rendered to SVG by vega (headless: no canvas needed) and to PNG by sharp.
 * Long inputs are binned or downsampled first, so the files stay small whatever the data size.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import * as vega from 'vega';
import { compile, type Config, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../util/atomic.js';
import { formatRate, type Calibration } from './calibrate.js';
import { auc, rocCurve, type Roc } from '../metrics/index.js';

/** A rendered plot: the SVG text and a PNG of it. */
export interface Plot {
  svg: string;
  png: Buffer;
}

/** One point of the training history: the loss logged at a step, and the validation loss when measured. */
export interface HistoryEntry {
  epoch: number;
  step: number;
  trainLoss: number;
  valLoss?: number;
}

/** A labelled vertical line on the distance histogram. */
export interface ThresholdMarker {
  label: string;
  value: number;
}

/** A labelled point on the ROC plot: the FAR and TAR measured at a threshold (those the model card records). */
export interface RocMarker {
  label: string;
  far: number;
  tar: number;
  /** Shown in the label when given. */
  threshold?: number;
}

/** Colours (and shapes) of the ROC's marked points, in marker order. */
const MARKER_COLOURS = ['#e45756', '#54a24b', '#b279a2', '#f58518', '#9d755d', '#72b7b2'];
const MARKER_SHAPES = ['circle', 'diamond', 'square', 'triangle-up', 'cross', 'triangle-down'];

/** FARs below this are drawn at it: a log axis cannot show 0. */
export const MIN_PLOTTED_FAR = 1e-4;
/** The most points a drawn curve keeps. */
export const MAX_CURVE_POINTS = 500;
/** PNGs are rendered at this multiple of the SVG's size, for sharp text. */
export const PNG_SCALE = 2;

const WIDTH = 560;
const HEIGHT = 340;

// DejaVu Sans is what the machine has; naming it keeps vega's text-size estimate and librsvg's rendering in step.
const CONFIG: Config = {
  font: 'DejaVu Sans',
  background: 'white',
  padding: 12,
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#555', anchor: 'start', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titleFontWeight: 'normal', titlePadding: 8, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: 'top-right', fillColor: 'rgba(255,255,255,0.85)', padding: 6 },
  view: { stroke: '#ccc' },
};

/** Renders a vega-lite spec to SVG (headless vega view) and PNG (sharp, at PNG_SCALE). */
async function render(spec: TopLevelSpec): Promise<Plot> {
  const { spec: vegaSpec } = compile({ ...spec, config: CONFIG } as TopLevelSpec);
  const view = new vega.View(vega.parse(vegaSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const png = await sharp(Buffer.from(svg), { density: 72 * PNG_SCALE }).png().toBuffer();
    return { svg, png };
  } finally {
    view.finalize();
  }
}

/**
 * Keeps at most `maxPoints` points of a curve that is monotone in x and in y (such as a ROC): the
 * plane (in the coordinates `x` and `y` return, e.g. log10 FAR) is cut into a grid of maxPoints / 4 cells per axis, and each run
 * of consecutive points in one cell keeps its first and last point. A monotone curve crosses at most
 * 2 * maxPoints / 4 cells, and every dropped point lies in the cell of a kept one, so the drawn line
 * stays within one cell of the data (vertical and horizontal steps keep their shape).
 */
export function downsampleCurve<T>(
  points: T[],
  x: (point: T) => number,
  y: (point: T) => number,
  maxPoints = MAX_CURVE_POINTS,
): T[] {
  if (points.length <= maxPoints) return points;
  const cells = Math.max(1, Math.floor(maxPoints / 4));
  const axis = (value: (point: T) => number) => {
    let low = Infinity;
    let high = -Infinity;
    for (const point of points) {
      low = Math.min(low, value(point));
      high = Math.max(high, value(point));
    }
    const span = high - low || 1;
    return (point: T): number => Math.min(cells - 1, Math.floor(((value(point) - low) / span) * cells));
  };
  const cellX = axis(x);
  const cellY = axis(y);
  const cellOf = (point: T): number => cellX(point) * cells + cellY(point);
  const kept: T[] = [];
  let start = 0;
  for (let i = 1; i <= points.length; i++) {
    if (i === points.length || cellOf(points[i]) !== cellOf(points[start])) {
      kept.push(points[start]);
      if (i - 1 > start) kept.push(points[i - 1]);
      start = i;
    }
  }
  return kept;
}

/** Averages consecutive points into at most `maxPoints` buckets (for noisy series such as per-step loss). */
function bucketMeans(points: Array<{ step: number; loss: number }>, maxPoints: number) {
  if (points.length <= maxPoints) return points;
  const size = points.length / maxPoints;
  const means: Array<{ step: number; loss: number }> = [];
  for (let b = 0; b < maxPoints; b++) {
    const bucket = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (bucket.length === 0) continue;
    means.push({
      step: bucket.reduce((s, p) => s + p.step, 0) / bucket.length,
      loss: bucket.reduce((s, p) => s + p.loss, 0) / bucket.length,
    });
  }
  return means;
}

/**
 * Training (and validation, where logged) loss against step. Non-finite losses are left out; a long
 * training series is averaged in buckets down to MAX_CURVE_POINTS points.
 *
 * @example
 * const { svg, png } = await lossCurvePlot([{ epoch: 0, step: 100, trainLoss: 0.9, valLoss: 1.1 }, ...]);
 */
export async function lossCurvePlot(history: HistoryEntry[]): Promise<Plot> {
  const bySteps = [...history].sort((a, b) => a.step - b.step);
  const train = bucketMeans(
    bySteps.filter((h) => Number.isFinite(h.trainLoss)).map((h) => ({ step: h.step, loss: h.trainLoss })),
    MAX_CURVE_POINTS,
  );
  const validation = bySteps
    .filter((h) => h.valLoss !== undefined && Number.isFinite(h.valLoss))
    .map((h) => ({ step: h.step, loss: h.valLoss as number }));
  if (train.length === 0 && validation.length === 0) throw new RangeError('lossCurvePlot: no finite loss in the history');
  const values = [
    ...train.map((p) => ({ ...p, series: 'train' })),
    ...validation.slice(-MAX_CURVE_POINTS).map((p) => ({ ...p, series: 'validation' })),
  ];
  const lastEpoch = history.reduce((last, h) => Math.max(last, h.epoch), 0);
  const dropped = history.filter(
    (h) => !Number.isFinite(h.trainLoss) || (h.valLoss !== undefined && !Number.isFinite(h.valLoss)),
  ).length;
  const x = { field: 'step', type: 'quantitative' as const, title: 'training step', axis: { tickMinStep: 1 } };
  const y = { field: 'loss', type: 'quantitative' as const, title: 'loss', scale: { zero: false } };
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: null,
    scale: { domain: ['train', 'validation'], range: ['#4c78a8', '#f58518'] },
  };
  return render({
    title: {
      text: 'Loss',
      subtitle: `${history.length} logged steps, epochs 0-${lastEpoch}${dropped > 0 ? `; ${dropped} non-finite losses left out` : ''}`,
    },
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values: values.filter((v) => v.series === 'train') },
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: { x, y, color },
      },
      {
        // Validation is logged rarely (per epoch): dots show where it was measured.
        data: { values: values.filter((v) => v.series === 'validation') },
        mark: { type: 'line', strokeWidth: 2.5, point: validation.length <= 60 ? { filled: true, size: 40 } : false },
        encoding: { x, y, color },
      },
    ],
  });
}

/** Short, readable number for labels: 0.8312 -> "0.831", 1e-3 -> "0.001", 2.5e-5 -> "2.5e-5". */
function formatNumber(value: number): string {
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(1).replace(/\.0e/, 'e').replace('e-0', 'e-');
  return Number(value.toPrecision(3)).toString();
}

/**
 * Overlaid histograms of same-pair and different-pair distances on shared bins, each normalised
 * to the fraction of its own pairs, with labelled vertical rules at the given thresholds.
 *
 * @example
 * await distanceHistogramPlot(same, different, [{ label: 'EER', value: 0.83 }, { label: 'FAR 1e-3', value: 0.61 }]);
 */
export async function distanceHistogramPlot(
  same: ArrayLike<number>,
  different: ArrayLike<number>,
  thresholds: ThresholdMarker[],
  bins = 40,
): Promise<Plot> {
  if (same.length + different.length === 0) throw new RangeError('distanceHistogramPlot: no distances');
  let low = Infinity;
  let high = -Infinity;
  for (const values of [same, different]) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i])) throw new RangeError('distanceHistogramPlot: distances must be finite');
      low = Math.min(low, values[i]);
      high = Math.max(high, values[i]);
    }
  }
  if (high === low) {
    // All distances equal: give the single bar a visible width instead of a zero-width range.
    const pad = Math.max(Math.abs(low) * 0.05, 1e-3);
    low -= pad;
    high += pad;
  }
  const width = (high - low) / bins;
  // The axis covers the bins and every threshold, with a margin so edge rules stay clear of the axes.
  const shown = [low, high, ...thresholds.map((t) => t.value).filter(Number.isFinite)];
  const shownLow = Math.min(...shown);
  const shownHigh = Math.max(...shown);
  const margin = (shownHigh - shownLow) * 0.03;
  const xDomain = [shownLow - margin, shownHigh + margin];

  const histogram = (values: ArrayLike<number>, name: string) => {
    const counts = new Array<number>(bins).fill(0);
    for (let i = 0; i < values.length; i++) counts[Math.min(bins - 1, Math.floor((values[i] - low) / width))]++;
    const series = `${name} (n=${values.length})`;
    return counts.map((count, b) => ({
      start: low + b * width,
      end: low + (b + 1) * width,
      fraction: values.length > 0 ? count / values.length : 0,
      series,
    }));
  };
  const bars = [...histogram(same, 'same'), ...histogram(different, 'different')];
  const peak = Math.max(...bars.map((b) => b.fraction));
  const rules = thresholds.map((t) => ({ ...t, text: `${t.label} = ${formatNumber(t.value)}` }));
  const seriesNames = [...new Set(bars.map((b) => b.series))];

  return render({
    title: { text: 'Pair distances', subtitle: `${bins} shared bins, each class normalised to its own pair count` },
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values: bars },
        mark: { type: 'rect', opacity: 0.55 },
        encoding: {
          x: { field: 'start', type: 'quantitative', title: 'distance', scale: { domain: xDomain, nice: false } },
          x2: { field: 'end' },
          y: { field: 'fraction', type: 'quantitative', title: 'fraction of pairs', scale: { domainMax: peak * 1.1 } },
          y2: { datum: 0 },
          color: {
            field: 'series',
            type: 'nominal',
            title: null,
            scale: { domain: seriesNames, range: ['#4c78a8', '#e45756'] },
            // Above the plot: inside, it would cover a histogram peak.
            legend: { orient: 'top', direction: 'horizontal', labelLimit: 400, fillColor: null, padding: 2 },
          },
        },
      },
      {
        data: { values: rules },
        mark: { type: 'rule', strokeDash: [5, 3], strokeWidth: 1.5, color: '#333' },
        encoding: { x: { field: 'value', type: 'quantitative' } },
      },
      {
        // Labels run up along their rules, so close thresholds do not overprint each other.
        data: { values: rules },
        mark: { type: 'text', angle: 270, align: 'right', baseline: 'bottom', dx: -6, dy: -4, fontSize: 11, color: '#222' },
        encoding: { x: { field: 'value', type: 'quantitative' }, y: { value: 0 }, text: { field: 'text' } },
      },
    ],
  });
}

/**
 * TAR against FAR on a log FAR axis (FAR below MIN_PLOTTED_FAR, including 0, is drawn at it), with
 * the AUC in the title, a chance line and optional operating points. Each point has its own colour
 * and shape and is named in a legend under the plot ("EER: threshold 0.83, FAR 4.2%, TAR 95.8%"):
 * labels beside the points would overprint each other when points lie close, as they often do.
 * Long curves are downsampled to about MAX_CURVE_POINTS points.
 *
 * @example
 * await rocPlot(roc, [{ label: 'EER', far: 0.042, tar: 0.958, threshold: 0.83 }]);
 */
export async function rocPlot(roc: Roc, markers: RocMarker[] = []): Promise<Plot> {
  const clamp = (far: number): number => Math.max(far, MIN_PLOTTED_FAR);
  const curve = downsampleCurve(
    Array.from(roc.far, (far, i) => ({ far: clamp(far), tar: roc.tar[i] })),
    (p) => Math.log10(p.far),
    (p) => p.tar,
  );
  const chance = Array.from({ length: 41 }, (_, i) => {
    const far = 10 ** (Math.log10(MIN_PLOTTED_FAR) * (1 - i / 40));
    return { far, tar: far };
  });
  const points = markers.map((m) => ({
    ...m,
    far: clamp(m.far),
    text: `${m.label}: ${m.threshold === undefined ? '' : `threshold ${m.threshold.toFixed(4)}, `}FAR ${formatRate(m.far)}, TAR ${formatRate(m.tar)}`,
  }));
  const names = points.map((p) => p.text);
  const legendScale = (range: string[]) => ({ domain: names, range: names.map((_, i) => range[i % range.length]!) });
  const farAxis = {
    field: 'far',
    type: 'quantitative' as const,
    title: `false accept rate (log scale; FAR < ${formatNumber(MIN_PLOTTED_FAR)} drawn at ${formatNumber(MIN_PLOTTED_FAR)})`,
    scale: { type: 'log' as const, domain: [MIN_PLOTTED_FAR, 1] },
    axis: { format: '~g' },
  };
  const tarAxis = { field: 'tar', type: 'quantitative' as const, title: 'true accept rate', scale: { domain: [0, 1] } };

  return render({
    title: {
      text: `ROC (AUC ${auc(roc).toFixed(4)})`,
      subtitle: `${roc.far.length} thresholds; accept a pair when distance <= threshold`,
    },
    width: WIDTH,
    height: HEIGHT,
    layer: [
      {
        data: { values: chance },
        mark: { type: 'line', color: '#aaa', strokeDash: [4, 4], strokeWidth: 1 },
        encoding: { x: farAxis, y: tarAxis },
      },
      {
        data: { values: [{ far: 0.1, tar: 0.1, text: 'chance (TAR = FAR)' }] },
        mark: { type: 'text', align: 'right', dx: -8, dy: -8, fontSize: 11, color: '#888' },
        encoding: { x: farAxis, y: tarAxis, text: { field: 'text' } },
      },
      {
        data: { values: curve },
        mark: { type: 'line', color: '#4c78a8', strokeWidth: 2, interpolate: 'linear' },
        encoding: { x: farAxis, y: tarAxis },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 70, opacity: 0.9 },
        encoding: {
          x: farAxis,
          y: tarAxis,
          color: {
            field: 'text',
            type: 'nominal',
            title: null,
            scale: legendScale(MARKER_COLOURS),
            // Under the plot, one line per point: never over the curve, never over each other.
            legend: { orient: 'bottom', direction: 'vertical', labelLimit: 560, fillColor: null, padding: 2, offset: 10 },
          },
          shape: { field: 'text', type: 'nominal', scale: legendScale(MARKER_SHAPES) },
        },
      },
    ],
  });
}

/** Threshold lines for the histogram and points for the ROC from a calibration: the EER and each resolvable target FAR. */
function calibrationMarkers(calibration: Calibration): { thresholds: ThresholdMarker[]; markers: RocMarker[] } {
  const isDefault = (threshold: number): string => (threshold === calibration.default.threshold ? ' (default)' : '');
  const thresholds: ThresholdMarker[] = [{ label: `EER${isDefault(calibration.eer.threshold)}`, value: calibration.eer.threshold }];
  // The FAR and TAR measured at the threshold, as the model card records them (not 1 - EER, which the
  // interpolated EER rate gives and which can differ from the TAR measured at its threshold by a step).
  const { eer } = calibration;
  const markers: RocMarker[] = [{ label: `EER${isDefault(eer.threshold)}`, far: eer.far, tar: eer.tar, threshold: eer.threshold }];
  for (const point of calibration.atFar) {
    if (!point.resolvable) continue;
    const name = `FAR ${formatNumber(point.targetFar)}`;
    thresholds.push({ label: `${name}${isDefault(point.threshold)}`, value: point.threshold });
    markers.push({ label: `${name}${isDefault(point.threshold)}`, far: point.far, tar: point.tar, threshold: point.threshold });
  }
  return { thresholds, markers };
}

/**
 * Renders and writes loss.{svg,png} (when the history has entries), distances.{svg,png} and
 * roc.{svg,png} into `dir` (created if missing), each file written atomically. Thresholds and ROC
 * markers come from the calibration. Returns the paths written.
 *
 * @example
 * await writePlots('runs/omniglot-1/plots', { history, calibration, same, different });
 */
export async function writePlots(
  dir: string,
  input: {
    history: HistoryEntry[];
    calibration: Calibration;
    same: ArrayLike<number>;
    different: ArrayLike<number>;
    /** The ROC of same / different; computed from them when omitted. */
    roc?: Roc;
  },
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const { thresholds, markers } = calibrationMarkers(input.calibration);
  const plots: Array<[string, Plot]> = [];
  if (input.history.length > 0) plots.push(['loss', await lossCurvePlot(input.history)]);
  plots.push(['distances', await distanceHistogramPlot(input.same, input.different, thresholds)]);
  plots.push(['roc', await rocPlot(input.roc ?? rocCurve(input.same, input.different), markers)]);

  const written: string[] = [];
  for (const [name, plot] of plots) {
    for (const [extension, data] of [['svg', plot.svg], ['png', plot.png]] as const) {
      const path = join(dir, `${name}.${extension}`);
      await writeFileAtomic(path, data);
      written.push(path);
    }
  }
  return written;
}
