/**
 * Where the time of the face mode goes, stage by stage, in one thread (one wasm core): decode
 * (sharp), detect, landmarks (two passes), align (chip), embed at batch 1 and at batch 8. Each image passes all
 * stages before the next, so every stage sees the machine's load of the same moment; the ratios
 * between stages are what to compare across machines, not the milliseconds. Also: the tfjs memory
 * each loaded part holds.
 *
 * npx tsx scripts/research/face-speed.ts [--detector ssd|tiny] [--images 16] [--backend wasm|cpu]
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { datasetsDir } from '../../src/data/datasets.js';
import { createRng } from '../../src/data/rng.js';
import { initBackend, parseBackendPreference } from '../../src/model/backend.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { chipTransform, extractChip } from '../../src/face/chip.js';
import { busyBackground, decodeRgb, encodeJpeg, gridPlacements, pasteFaces } from '../../src/face/composite.js';
import { describeDetector, findFaces, loadDetector, type DetectorName } from '../../src/face/detect.js';
import { landmarkBox, loadLandmarkFinder } from '../../src/face/landmarks.js';
import { loadFaceTower } from '../../src/face/tower.js';

const program = new Command()
  .option('--data <dir>', 'AT&T faces (s1..s40/N.png)', join(datasetsDir(), 'att-faces'))
  .option('--out <dir>', 'where speed-<detector>.json and .md go', 'docs/research/2026-12-face-stage')
  .option('--detector <name>', 'ssd or tiny', 'ssd')
  .option('--images <n>', 'images of each kind (a multiple of 8)', (v) => Number.parseInt(v, 10), 16)
  .option('--backend <name>', 'wasm or cpu', 'wasm')
  .parse();
const opts = program.opts<{ data: string; out: string; detector: DetectorName; images: number; backend: string }>();

const STAGES = ['decode', 'detect', 'landmarks', 'align', 'embed, batch 1', 'embed, batch 8 (per face)'] as const;
type Stage = (typeof STAGES)[number];

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function timeIt<T>(ms: number[], run: () => Promise<T> | T): Promise<T> {
  const t0 = performance.now();
  const out = await run();
  ms.push(performance.now() - t0);
  return out;
}

async function main(): Promise<void> {
  const backend = await initBackend({ preference: parseBackendPreference(opts.backend), strict: true });
  const bytes0 = tf.memory().numBytes;
  const detector = await loadDetector({ name: opts.detector });
  const bytesDetector = tf.memory().numBytes - bytes0;
  const finder = await loadLandmarkFinder('68');
  const bytesLandmarks = tf.memory().numBytes - bytes0 - bytesDetector;
  const tower = await loadFaceTower();
  const bytesTower = tf.memory().numBytes - bytes0 - bytesDetector - bytesLandmarks;

  const rng = createRng(5);
  const inputs: { kind: string; bytes: Buffer }[] = [];
  for (let i = 0; i < opts.images; i++) {
    const file = join(opts.data, `s${31 + (i % 10)}`, `${1 + Math.floor(i / 10)}.png`);
    const scene = await pasteFaces(busyBackground(640, 480, rng), gridPlacements([file], 640, 480, [60, 120], rng));
    inputs.push({ kind: '640x480 JPEG, one face', bytes: await encodeJpeg(scene.image) });
  }
  for (let i = 0; i < opts.images; i++) {
    inputs.push({ kind: 'AT&T 92x112 PNG', bytes: await readFile(join(opts.data, `s${31 + (i % 10)}`, `${1 + Math.floor(i / 10)}.png`)) });
  }

  const results: { kind: string; images: number; missed: number; msMedian: Record<Stage, number>; shareOfTotal: Record<string, number>; batch8VsBatch1: number }[] = [];
  for (const kind of [...new Set(inputs.map((i) => i.kind))]) {
    const ms = Object.fromEntries(STAGES.map((s) => [s, [] as number[]])) as Record<Stage, number[]>;
    const chips: Float32Array[] = [];
    let missed = 0;
    const batch1: number[] = [];
    for (const input of inputs.filter((i) => i.kind === kind)) {
      const image = await timeIt(ms.decode, () => decodeRgb(input.bytes));
      const [face] = await timeIt(ms.detect, () => findFaces(detector, image));
      if (!face) { missed++; continue; }
      // Two landmark passes, as the stage runs them: on the detector's box, then on the landmarks' own.
      const [points] = await timeIt(ms.landmarks, async () => finder.locate(image, (await finder.locate(image, [face.box])).map(landmarkBox)));
      const chip = await timeIt(ms.align, () => extractChip(image, chipTransform(points)));
      await timeIt(ms['embed, batch 1'], () => tower.embed([chip]));
      chips.push(chip);
      // Every 8 chips: the same 8 at batch 8, next to their batch-1 times.
      if (chips.length % 8 === 0) {
        const group = chips.slice(-8);
        const t0 = performance.now();
        await tower.embed(group);
        ms['embed, batch 8 (per face)'].push((performance.now() - t0) / 8);
        batch1.push(median(ms['embed, batch 1'].slice(-8)));
      }
    }
    const med = Object.fromEntries(STAGES.map((s) => [s, median(ms[s])])) as Record<Stage, number>;
    const perFace = med.decode + med.detect + med.landmarks + med.align + med['embed, batch 1'];
    results.push({
      kind,
      images: inputs.filter((i) => i.kind === kind).length,
      missed,
      msMedian: med,
      shareOfTotal: Object.fromEntries(STAGES.slice(0, 5).map((s) => [s, med[s] / perFace])),
      batch8VsBatch1: median(ms['embed, batch 8 (per face)'].map((v, i) => v / batch1[i])),
    });
    process.stderr.write(`${kind}: ${JSON.stringify(results.at(-1))}\n`);
  }

  const report = {
    command: `npx tsx scripts/research/face-speed.ts --detector ${opts.detector} --images ${opts.images} --backend ${opts.backend}`,
    started: new Date().toISOString(),
    backend: backend.name,
    detector: describeDetector(detector.settings),
    tfjsBytes: { detector: bytesDetector, landmarks: bytesLandmarks, tower: bytesTower },
    results,
  };
  const pct = (v: number) => `${(100 * v).toFixed(0)}%`;
  const table = [
    `| stage (${report.detector}, ${backend.name}, one thread) | ${results.map((r) => `${r.kind}: ms`).join(' | ')} | ${results.map((r) => `${r.kind}: share of the total`).join(' | ')} |`,
    `|---|${results.map(() => '---|---|').join('')}`,
    ...STAGES.map((s) => `| ${s} | ${results.map((r) => r.msMedian[s].toFixed(1)).join(' | ')} | ${results.map((r) => (s in r.shareOfTotal ? pct(r.shareOfTotal[s]) : `x${r.batch8VsBatch1.toFixed(2)} of batch 1`)).join(' | ')} |`),
    '',
    `tfjs memory held once loaded: detector ${(bytesDetector / 2 ** 20).toFixed(1)} MiB, landmarks ${(bytesLandmarks / 2 ** 20).toFixed(1)} MiB, tower ${(bytesTower / 2 ** 20).toFixed(1)} MiB.`,
    '',
  ].join('\n');
  await mkdir(opts.out, { recursive: true });
  const name = `speed-${opts.detector}-${backend.name}`;
  await writeFileAtomic(join(opts.out, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(join(opts.out, `${name}.md`), `<!-- ${report.command} (${report.started}) -->\n${table}`);
  process.stdout.write(table);
}

await main();
