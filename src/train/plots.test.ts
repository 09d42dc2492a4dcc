import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '../data/rng.js';
import { calibrate } from './calibrate.js';
import { rocCurve } from '../metrics/index.js';
import {
  distanceHistogramPlot,
  downsampleCurve,
  lossCurvePlot,
  MAX_CURVE_POINTS,
  PNG_SCALE,
  rocPlot,
  writePlots,
  type HistoryEntry,
  type Plot,
} from './plots.js';

/** The SVG's declared size, and a check that the PNG decodes to PNG_SCALE times it. */
async function expectValidPlot(plot: Plot): Promise<void> {
  expect(plot.svg.startsWith('<svg')).toBe(true);
  expect(plot.svg.trimEnd().endsWith('</svg>')).toBe(true);
  const width = Number(/width="(\d+(?:\.\d+)?)"/.exec(plot.svg)?.[1]);
  const height = Number(/height="(\d+(?:\.\d+)?)"/.exec(plot.svg)?.[1]);
  expect(width).toBeGreaterThan(300);
  expect(height).toBeGreaterThan(200);
  const metadata = await sharp(plot.png).metadata();
  expect(metadata.format).toBe('png');
  expect(metadata.width).toBe(Math.round(width * PNG_SCALE));
  expect(metadata.height).toBe(Math.round(height * PNG_SCALE));
}

function history(steps: number, random: () => number): HistoryEntry[] {
  return Array.from({ length: steps }, (_, i) => ({
    epoch: Math.floor(i / 100),
    step: i + 1,
    trainLoss: 1 + Math.exp(-i / 200) + 0.05 * random(),
    valLoss: (i + 1) % 100 === 0 ? 1.1 + Math.exp(-i / 250) : undefined,
  }));
}

/** Approximate boxes of the visible, unrotated texts of a vega SVG, in the SVG's coordinates (DejaVu Sans: ~0.6 em per character). */
function textBoxes(svg: string): Array<{ text: string; left: number; right: number; top: number; bottom: number }> {
  const boxes: Array<{ text: string; left: number; right: number; top: number; bottom: number }> = [];
  const offsets: Array<[number, number]> = [[0, 0]];
  for (const [, closing, name, attrs, content] of svg.matchAll(/<(\/?)(g|text)\b([^>]*)>([^<]*)/g)) {
    if (name === 'g') {
      if (closing) offsets.pop();
      else if (!attrs!.endsWith('/')) {
        const t = /transform="translate\(([-\d.e]+),([-\d.e]+)\)"/.exec(attrs!);
        const [x, y] = offsets.at(-1)!;
        offsets.push([x + (t ? Number(t[1]) : 0), y + (t ? Number(t[2]) : 0)]);
      }
      continue;
    }
    if (closing || /opacity="0"/.test(attrs!) || /rotate\(/.test(attrs!)) continue;
    const t = /transform="translate\(([-\d.e]+),([-\d.e]+)\)"/.exec(attrs!);
    const size = Number(/font-size="([\d.]+)px"/.exec(attrs!)?.[1] ?? 11);
    const text = content!.replace(/&[a-z]+;/g, '_');
    const width = text.length * size * 0.6;
    const anchor = /text-anchor="(\w+)"/.exec(attrs!)?.[1] ?? 'start';
    const x = offsets.at(-1)![0] + (t ? Number(t[1]) : 0);
    const y = offsets.at(-1)![1] + (t ? Number(t[2]) : 0);
    const left = anchor === 'middle' ? x - width / 2 : anchor === 'end' ? x - width : x;
    boxes.push({ text, left, right: left + width, top: y - size, bottom: y });
  }
  return boxes;
}

/** Pairs of texts whose boxes overlap by more than a pixel each way. */
function overlappingTexts(svg: string): string[][] {
  const boxes = textBoxes(svg);
  const pairs: string[][] = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]!;
      const b = boxes[j]!;
      if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1) pairs.push([a.text, b.text]);
    }
  }
  return pairs;
}

const rng = createRng(1);
const same = Array.from({ length: 400 }, () => Math.abs(0.5 + 0.2 * rng.normal()));
const different = Array.from({ length: 2000 }, () => Math.abs(1.2 + 0.2 * rng.normal()));

describe('downsampleCurve', () => {
  const identity = (v: number): number => v;

  it('leaves short curves alone', () => {
    const points = [1, 2, 3];
    expect(downsampleCurve(points, identity, identity, 10)).toBe(points);
  });

  it('keeps the endpoints and at most maxPoints points, in order', () => {
    const points = Array.from({ length: 10_000 }, (_, i) => ({ x: Math.sqrt(i), y: i }));
    const kept = downsampleCurve(points, (p) => p.x, (p) => p.y, 100);
    expect(kept.length).toBeLessThanOrEqual(100);
    expect(kept.length).toBeGreaterThan(25);
    expect(kept[0]).toBe(points[0]);
    expect(kept.at(-1)).toBe(points.at(-1));
    for (let i = 1; i < kept.length; i++) expect(kept[i].y).toBeGreaterThan(kept[i - 1].y);
  });

  it('keeps every point within one grid cell of a kept one, across a vertical step', () => {
    // 1000 points at x = 0 (TAR rising at FAR 0), then a flat run at y = 1.
    const points = [
      ...Array.from({ length: 1000 }, (_, i) => ({ x: 0, y: i / 999 })),
      ...Array.from({ length: 1000 }, (_, i) => ({ x: (i + 1) / 1000, y: 1 })),
    ];
    const maxPoints = 20;
    const kept = downsampleCurve(points, (p) => p.x, (p) => p.y, maxPoints);
    expect(kept.length).toBeLessThanOrEqual(maxPoints);
    const cell = 1 / (maxPoints / 4);
    for (const point of points) {
      const near = kept.some((k) => Math.abs(k.x - point.x) <= cell && Math.abs(k.y - point.y) <= cell);
      expect(near, `(${point.x}, ${point.y})`).toBe(true);
    }
  });
});

describe('lossCurvePlot', () => {
  it('draws train and validation loss against step', async () => {
    const plot = await lossCurvePlot(history(300, () => rng.next()));
    await expectValidPlot(plot);
    expect(plot.svg).toContain('>Loss<');
    expect(plot.svg).toContain('training step');
    expect(plot.svg).toContain('>train<');
    expect(plot.svg).toContain('>validation<');
  });

  it('stays small for a long history and says when it left losses out', async () => {
    const long = history(50_000, () => rng.next());
    long[10].trainLoss = Number.NaN;
    const plot = await lossCurvePlot(long);
    expect(plot.svg.length).toBeLessThan(150_000);
    expect(plot.svg).toContain('1 non-finite losses left out');
  });

  it('refuses a history without any finite loss', async () => {
    await expect(lossCurvePlot([])).rejects.toThrow(RangeError);
    await expect(lossCurvePlot([{ epoch: 0, step: 1, trainLoss: Number.NaN }])).rejects.toThrow(/no finite loss/);
  });
});

describe('distanceHistogramPlot', () => {
  it('overlays both classes with labelled threshold rules', async () => {
    const plot = await distanceHistogramPlot(same, different, [
      { label: 'EER', value: 0.8512 },
      { label: 'FAR 0.001', value: 0.6 },
    ]);
    await expectValidPlot(plot);
    expect(plot.svg).toContain('Pair distances');
    expect(plot.svg).toContain('same (n=400)');
    expect(plot.svg).toContain('different (n=2000)');
    expect(plot.svg).toContain('EER = 0.851');
    expect(plot.svg).toContain('FAR 0.001 = 0.6');
    expect(plot.svg).toContain('fraction of pairs');
  });

  it('copes with a single repeated distance', async () => {
    await expectValidPlot(await distanceHistogramPlot([0.5, 0.5], [0.5], []));
  });

  it('rejects empty or non-finite input', async () => {
    await expect(distanceHistogramPlot([], [], [])).rejects.toThrow(/no distances/);
    await expect(distanceHistogramPlot([0.1, Number.NaN], [1], [])).rejects.toThrow(/finite/);
  });
});

describe('rocPlot', () => {
  it('draws TAR against a log FAR axis with the AUC in the title', async () => {
    const plot = await rocPlot(rocCurve([0.1, 0.2], [0.5, 0.6]), [{ label: 'EER', far: 0, tar: 1 }]);
    await expectValidPlot(plot);
    expect(plot.svg).toContain('ROC (AUC 1.0000)');
    expect(plot.svg).toContain('false accept rate (log scale; FAR &lt; 1e-4 drawn at 1e-4)');
    expect(plot.svg).toContain('true accept rate');
    expect(plot.svg).toContain('EER');
    expect(overlappingTexts(plot.svg)).toEqual([]);
  });

  it('keeps a long curve small', async () => {
    const random = createRng(2);
    const roc = rocCurve(
      Array.from({ length: 20_000 }, () => random.normal()),
      Array.from({ length: 80_000 }, () => 1.5 + random.normal()),
    );
    expect(roc.far.length).toBeGreaterThan(50_000);
    const plot = await rocPlot(roc);
    // A path of MAX_CURVE_POINTS points at ~15 characters each, plus axes and text.
    expect(plot.svg.length).toBeLessThan(MAX_CURVE_POINTS * 15 + 40_000);
    expect(plot.svg).toMatch(/ROC \(AUC 0\.8\d{3}\)/);
  });
});

describe('writePlots', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('writes the three plots as SVG and PNG, with the calibration thresholds marked', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plots-test-'));
    dirs.push(dir);
    const calibration = calibrate(same, different, { targetFars: [1e-2, 1e-3] });
    const written = await writePlots(join(dir, 'nested'), {
      history: history(200, () => rng.next()),
      calibration,
      same,
      different,
    });
    const names = ['loss', 'distances', 'roc'].flatMap((n) => [`${n}.svg`, `${n}.png`]);
    expect(written).toEqual(names.map((name) => join(dir, 'nested', name)));
    // No temporary files are left behind.
    expect((await readdir(join(dir, 'nested'))).sort()).toEqual([...names].sort());
    const distances = await readFile(join(dir, 'nested', 'distances.svg'), 'utf8');
    // With 2000 different pairs FAR 1e-3 is resolvable, so it is the default threshold.
    expect(calibration.default.source).toBe('far=0.001');
    expect(distances).toContain('FAR 0.001 (default)');
    expect(distances).toContain('FAR 0.01 =');
    expect(distances).toContain('EER =');
    const roc = await readFile(join(dir, 'nested', 'roc.svg'), 'utf8');
    expect(roc).toContain(`AUC ${calibration.auc.toFixed(4)}`);
    expect((await sharp(await readFile(join(dir, 'nested', 'roc.png'))).metadata()).format).toBe('png');
  });

  it("labels the ROC's operating points with the model card's numbers, and no two labels overlap", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plots-test-'));
    dirs.push(dir);
    // Two operating points close together on the curve (EER near FAR 2.7%, FAR 0.01 just left of it), as a well-trained small model gives.
    const random = createRng(4);
    const near = Array.from({ length: 240 }, () => Math.abs(0.5 + 0.17 * random.normal()));
    const far = Array.from({ length: 486 }, () => Math.abs(1.1 + 0.16 * random.normal()));
    const calibration = calibrate(near, far, { targetFars: [1e-2, 1e-3] });
    // The measured TAR at the EER threshold (what the card and the page show) differs from 1 - EER here.
    expect(calibration.eer.tar.toFixed(3)).not.toBe((1 - calibration.eer.rate).toFixed(3));
    await writePlots(dir, { history: [], calibration, same: near, different: far });
    const roc = await readFile(join(dir, 'roc.svg'), 'utf8');
    // As the demo page writes rates: one decimal, two below 1%.
    const percent = (rate: number): string => `${(rate * 100).toFixed(rate > 0 && rate < 0.01 ? 2 : 1)}%`;
    expect(roc).toContain(`EER (default): threshold ${calibration.eer.threshold.toFixed(4)}, FAR ${percent(calibration.eer.far)}, TAR ${percent(calibration.eer.tar)}`);
    const atFar = calibration.atFar[0]!;
    expect(roc).toContain(`FAR 0.01: threshold ${atFar.threshold.toFixed(4)}, FAR ${percent(atFar.far)}, TAR ${percent(atFar.tar)}`);
    expect(overlappingTexts(roc)).toEqual([]);
  });

  it('skips the loss plot when there is no history', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'plots-test-'));
    dirs.push(dir);
    const calibration = calibrate(same, different);
    const written = await writePlots(dir, { history: [], calibration, same, different, roc: rocCurve(same, different) });
    expect(written.map((p) => p.slice(dir.length + 1))).toEqual(['distances.svg', 'distances.png', 'roc.svg', 'roc.png']);
  });
});
