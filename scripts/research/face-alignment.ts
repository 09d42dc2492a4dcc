/**
 * Which crop feeds the face tower best, zero-shot on the AT&T faces (the pretrained net never saw any
 * of them): face-api's own crop (the box its `align(…, { useDlibAlignment })` derives from the
 * landmarks, cut without rotation, padded to a square and resized to 150 by the net) against
 * src/face's aligned chips (a similarity fitted to dlib's mean face, or to the eye centres only),
 * with landmarks from the detector's box, from the whole photo, or refined (the 68-point net run
 * again on the box of its first landmarks, padded 20% as face-api's default `align()` box), with the
 * 68-point net or the tiny one. Scored by src/eval/verify.ts's scoreVerification (all same pairs,
 * all different pairs, L2 distances) on s31-s40 (the project's test panel, 450 / 4,500 pairs) and on
 * all 40 people (1,800 / 78,000 pairs), with identity-bootstrap 95% intervals.
 *
 * npx tsx scripts/research/face-alignment.ts [--data DIR] [--out DIR] [--detector ssd|tiny]
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { datasetsDir } from '../../src/data/datasets.js';
import { scoreVerification } from '../../src/eval/verify.js';
import { initBackend } from '../../src/model/backend.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { chipTransform, extractChip, type AlignPoints, type ChipFill } from '../../src/face/chip.js';
import { decodeRgb } from '../../src/face/composite.js';
import { describeDetector, findFaces, loadDetector, type DetectorName } from '../../src/face/detect.js';
import { loadFaceApi, type Box, type Point } from '../../src/face/faceapi.js';
import { landmarkBox, loadLandmarkFinder, type LandmarkModel } from '../../src/face/landmarks.js';
import { loadNet } from '../../src/face/nets.js';
import type { RgbImage } from '../../src/face/pixels.js';
import { loadFaceTower } from '../../src/face/tower.js';

const program = new Command()
  .option('--data <dir>', 'AT&T faces (s1..s40/N.png)', join(datasetsDir(), 'att-faces'))
  .option('--out <dir>', 'where alignment.json and alignment.md go', 'docs/research/2026-12-face-stage')
  .option('--detector <name>', 'ssd or tiny', 'ssd')
  .parse();
const opts = program.opts<{ data: string; out: string; detector: DetectorName }>();

/** face-api's package internals this comparison calls: its landmark class (for `align`) and `extractFaceTensors`. */
interface FaceApiInternals {
  Point: new (x: number, y: number) => unknown;
  FaceLandmarks68: new (relative: unknown[], dims: { width: number; height: number }) => { align(d: null, o: { useDlibAlignment: boolean }): Box };
  extractFaceTensors(image: tf.Tensor3D, boxes: Box[]): Promise<tf.Tensor3D[]>;
}

interface Variant {
  label: string;
  landmarks: LandmarkModel;
  from: 'detector' | 'whole photo' | 'refined';
  crop: 'face-api box' | { points: AlignPoints; fill: ChipFill };
}

const VARIANTS: Variant[] = [
  { label: "face-api's crop (landmark box, no rotation)", landmarks: '68', from: 'detector', crop: 'face-api box' },
  { label: 'aligned chip, dlib points', landmarks: '68', from: 'detector', crop: { points: 'dlib', fill: 'black' } },
  { label: 'aligned chip, eye centres only', landmarks: '68', from: 'detector', crop: { points: 'eyes', fill: 'black' } },
  { label: 'aligned chip, dlib points, edge fill', landmarks: '68', from: 'detector', crop: { points: 'dlib', fill: 'edge' } },
  { label: 'aligned chip, dlib points, tiny landmark net', landmarks: '68-tiny', from: 'detector', crop: { points: 'dlib', fill: 'black' } },
  { label: "face-api's crop, landmarks on the whole photo", landmarks: '68', from: 'whole photo', crop: 'face-api box' },
  { label: 'aligned chip, landmarks on the whole photo', landmarks: '68', from: 'whole photo', crop: { points: 'dlib', fill: 'black' } },
  { label: 'aligned chip, dlib points, landmarks refined on their own box (src/face)', landmarks: '68', from: 'refined', crop: { points: 'dlib', fill: 'black' } },
];

async function main(): Promise<void> {
  const backend = await initBackend({ preference: 'wasm' });
  const api = loadFaceApi() as unknown as FaceApiInternals;
  const detector = await loadDetector({ name: opts.detector });
  const finders = { '68': await loadLandmarkFinder('68'), '68-tiny': await loadLandmarkFinder('68-tiny') };
  const tower = await loadFaceTower();
  const { net: recognition } = await loadNet('recognition');

  const photos: { image: RgbImage; label: number; box: Box; detected: boolean }[] = [];
  for (let s = 1; s <= 40; s++) {
    for (let n = 1; n <= 10; n++) {
      const image = await decodeRgb(join(opts.data, `s${s}`, `${n}.png`));
      const [face] = await findFaces(detector, image);
      // A photo the detector misses keeps the whole frame as its box, so every photo is scored.
      photos.push({ image, label: s, box: face?.box ?? { x: 0, y: 0, width: image.width, height: image.height }, detected: !!face });
    }
  }
  const landmarks = new Map<string, Point[][]>();
  for (const model of ['68', '68-tiny'] as const) {
    for (const from of ['detector', 'whole photo', 'refined'] as const) {
      const list: Point[][] = [];
      for (const [i, p] of photos.entries()) {
        const box = from === 'detector' ? p.box
          : from === 'refined' ? landmarkBox(landmarks.get(`${model}/detector`)![i])
          : { x: 0, y: 0, width: p.image.width, height: p.image.height };
        list.push((await finders[model].locate(p.image, [box]))[0]);
      }
      landmarks.set(`${model}/${from}`, list);
    }
  }

  const faceApiDescriptor = async (image: RgbImage, points: Point[]): Promise<Float32Array> => {
    const relative = points.map((q) => new api.Point(q.x / image.width, q.y / image.height));
    const box = new api.FaceLandmarks68(relative, { width: image.width, height: image.height }).align(null, { useDlibAlignment: true });
    const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
    const [face] = await api.extractFaceTensors(input, [box]);
    const descriptor = await recognition.computeFaceDescriptor(face);
    tf.dispose([input, face]);
    return descriptor;
  };

  const labels = Int32Array.from(photos.map((p) => p.label));
  const test = photos.flatMap((p, i) => (p.label >= 31 ? [i] : []));
  const score = (vectors: Float32Array, rows: number[]) => {
    const subset = new Float32Array(rows.length * 128);
    rows.forEach((r, k) => subset.set(vectors.subarray(r * 128, (r + 1) * 128), k * 128));
    const { scores } = scoreVerification(subset, 128, Int32Array.from(rows, (r) => labels[r]), { bootstrap: 1000 });
    return { eer: scores.eer, eerInterval: scores.eerInterval, rank1: scores.rank1, auc: scores.auc, pairs: scores.pairs };
  };
  const rows = [];
  for (const v of VARIANTS) {
    const points = landmarks.get(`${v.landmarks}/${v.from}`)!;
    const vectors = new Float32Array(photos.length * 128);
    const crop = v.crop;
    for (let start = 0; start < photos.length; start += 16) {
      const batch = photos.slice(start, start + 16);
      const descriptors = crop === 'face-api box'
        ? await Promise.all(batch.map((p, k) => faceApiDescriptor(p.image, points[start + k])))
        : await tower.embed(batch.map((p, k) => extractChip(p.image, chipTransform(points[start + k], { points: crop.points }), 150, crop.fill)));
      descriptors.forEach((d, k) => vectors.set(d, (start + k) * 128));
    }
    const row = { variant: v.label, landmarks: v.landmarks, from: v.from, crop: v.crop, s31to40: score(vectors, test), all40: score(vectors, photos.map((_, i) => i)) };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }

  const report = {
    command: `npx tsx scripts/research/face-alignment.ts --detector ${opts.detector}`,
    started: new Date().toISOString(),
    backend: backend.name,
    detector: describeDetector(detector.settings),
    photos: photos.length,
    detectorMissed: { s31to40: test.filter((i) => !photos[i].detected).length, all40: photos.filter((p) => !p.detected).length },
    rows,
  };
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const eer = (r: ReturnType<typeof score>) => `${pct(r.eer)} (${pct(r.eerInterval!.low)}-${pct(r.eerInterval!.high)})`;
  const table = [
    `| crop (detector: ${report.detector}; photos it missed, whole frame used: ${report.detectorMissed.s31to40}/100 and ${report.detectorMissed.all40}/400) | landmark net | s31-s40: EER (95% interval) | rank-1 | all 40 people: EER (95% interval) | rank-1 |`,
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.variant} | ${r.landmarks} | ${eer(r.s31to40)} | ${(100 * r.s31to40.rank1).toFixed(0)}% | ${eer(r.all40)} | ${(100 * r.all40.rank1).toFixed(1)}% |`),
    '',
  ].join('\n');
  await mkdir(opts.out, { recursive: true });
  await writeFileAtomic(join(opts.out, `alignment-${opts.detector}.json`), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(join(opts.out, `alignment-${opts.detector}.md`), `<!-- ${report.command} (${report.started}, ${backend.name}) -->\n${table}`);
  process.stdout.write(table);
}

await main();
