/**
 * Which face detector, by measurement: face-api's SSD-MobileNetV1 against its tiny detector at
 * several input sizes, on one wasm core. For each: faces found on AT&T's raw 92x112 faces (s31-s40),
 * with and without the grey-border retry of src/face/detect.ts; faces found and false detections
 * on 640x480 JPEG scenes with one AT&T face (60-120 px wide) or six, pasted on busy synthetic
 * backgrounds, one face 30-55 px or 150-380 px wide, or one face (80-120 px) a quarter or half off
 * the image; false detections on the
 * backgrounds alone; and milliseconds per image.
 *
 * A detection finds a pasted face when its box overlaps the face's ground-truth box with IoU >= 0.5.
 * The ground-truth box is where the face lies inside the pasted 92x112 frame: the median box both
 * detectors draw on the training identities' photos (s1-s30, photo 1, bordered), scaled to the paste.
 *
 * npx tsx scripts/research/face-detectors.ts [--data DIR] [--out DIR] [--singles 60] [--crowds 20] [--empties 40] [--cuts 20] [--sized 30] [--seed 1]
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { datasetsDir } from '../../src/data/datasets.js';
import { createRng } from '../../src/data/rng.js';
import { initBackend } from '../../src/model/backend.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { ATT_HEIGHT, ATT_WIDTH, busyBackground, decodeRgb, encodeJpeg, gridPlacements, pasteFaces } from '../../src/face/composite.js';
import { findFaces, iou, loadDetector, type Detection, type DetectorOptions, type FaceDetector } from '../../src/face/detect.js';
import type { Box } from '../../src/face/faceapi.js';
import { addBorder, type RgbImage } from '../../src/face/pixels.js';

const program = new Command()
  .option('--data <dir>', 'AT&T faces (s1..s40/N.png)', join(datasetsDir(), 'att-faces'))
  .option('--out <dir>', 'where detectors.json and detectors.md go', 'docs/research/2026-12-face-stage')
  .option('--singles <n>', 'one-face scenes', (v) => Number.parseInt(v, 10), 60)
  .option('--crowds <n>', 'six-face scenes', (v) => Number.parseInt(v, 10), 20)
  .option('--empties <n>', 'scenes without a face', (v) => Number.parseInt(v, 10), 40)
  .option('--sized <n>', 'scenes with one small face (30-55 px wide), and as many with one large face (150-380 px)', (v) => Number.parseInt(v, 10), 30)
  .option('--cuts <n>', 'scenes with one face a quarter off the image, and as many half off', (v) => Number.parseInt(v, 10), 20)
  .option('--seed <n>', 'scene seed', (v) => Number.parseInt(v, 10), 1)
  .option('--photos <n>', 'AT&T photos per test identity (s31-s40)', (v) => Number.parseInt(v, 10), 10)
  .parse();
const opts = program.opts<{ data: string; out: string; singles: number; crowds: number; empties: number; cuts: number; sized: number; seed: number; photos: number }>();

const CANDIDATES: { label: string; options: DetectorOptions }[] = [
  { label: 'SSD-MobileNetV1 (512)', options: { name: 'ssd' } },
  ...[224, 320, 416, 512, 608].map((size) => ({ label: `tiny ${size}`, options: { name: 'tiny' as const, inputSizes: [size], retryInputSize: size, retryBorder: 1 } })),
  { label: 'tiny 512, retry at 224', options: { name: 'tiny', inputSizes: [512], retryInputSize: 224, retryBorder: 1 } },
  ...[512, 608].map((size) => ({ label: `tiny ${size} + 224, retry at 224`, options: { name: 'tiny' as const, inputSizes: [size, 224], retryInputSize: 224, retryBorder: 1 } })),
];
// Border variants of the retry pass, tried on the AT&T faces with SSD and tiny 224.
const BORDER_CANDIDATES = ['SSD-MobileNetV1 (512)', 'tiny 224'];
const BORDERS = [0.5, 1].flatMap((retryBorder) => [0, 128].map((borderValue) => ({ retryBorder, borderValue })));

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The face's box inside a 92x112 frame, as fractions: the median of both detectors' boxes on bordered training photos. */
async function calibrateFaceBox(detectors: FaceDetector[]): Promise<Box> {
  const boxes: Box[] = [];
  for (let s = 1; s <= 30; s++) {
    const image = await decodeRgb(join(opts.data, `s${s}`, '1.png'));
    for (const detector of detectors) {
      const [best] = await findFaces(detector, image, { retryBorder: 1 });
      if (best) boxes.push({ x: best.box.x / ATT_WIDTH, y: best.box.y / ATT_HEIGHT, width: best.box.width / ATT_WIDTH, height: best.box.height / ATT_HEIGHT });
    }
  }
  return { x: median(boxes.map((b) => b.x)), y: median(boxes.map((b) => b.y)), width: median(boxes.map((b) => b.width)), height: median(boxes.map((b) => b.height)) };
}

interface Scene {
  /** Decoded once from the JPEG a user would upload (or the AT&T PNG). */
  image: RgbImage;
  truth: Box[];
}

const testFiles = (): string[] => {
  const files: string[] = [];
  for (let s = 31; s <= 40; s++) for (let n = 1; n <= opts.photos; n++) files.push(join(opts.data, `s${s}`, `${n}.png`));
  return files;
};

async function makeScenes(faceBox: Box): Promise<Record<'small' | 'large' | 'singles' | 'crowds' | 'empties' | 'quarterOff' | 'halfOff', Scene[]>> {
  const rng = createRng(opts.seed);
  const files = testFiles();
  const scene = async (count: number): Promise<Scene> => {
    const background = busyBackground(640, 480, rng);
    const picks = Array.from({ length: count }, () => rng.pick(files));
    const composite = await pasteFaces(background, gridPlacements(picks, 640, 480, [60, 120], rng));
    const truth = composite.faces.map(({ box }) => ({
      x: box.x + faceBox.x * box.width,
      y: box.y + faceBox.y * box.height,
      width: faceBox.width * box.width,
      height: faceBox.height * box.height,
    }));
    return { image: await decodeRgb(await encodeJpeg(composite.image)), truth };
  };
  const build = async (n: number, count: number) => {
    const out: Scene[] = [];
    for (let i = 0; i < n; i++) out.push(await scene(count));
    return out;
  };
  // Faces a quarter or half off the image, over each edge in turn; the truth is the part left inside.
  const cuts = async (n: number, off: number) => {
    const out: Scene[] = [];
    for (let i = 0; i < n; i++) {
      const width = Math.round(rng.uniform(80, 121));
      const height = Math.round((width * ATT_HEIGHT) / ATT_WIDTH);
      const edge = i % 4;
      const x = edge === 0 ? -Math.round(off * width) : edge === 1 ? 640 - Math.round((1 - off) * width) : rng.int(640 - width);
      const y = edge === 2 ? -Math.round(off * height) : edge === 3 ? 480 - Math.round((1 - off) * height) : rng.int(480 - height);
      const composite = await pasteFaces(busyBackground(640, 480, rng), [{ file: rng.pick(files), x, y, width }]);
      const { box } = composite.faces[0];
      const face = { x: box.x + faceBox.x * box.width, y: box.y + faceBox.y * box.height, width: faceBox.width * box.width, height: faceBox.height * box.height };
      const x0 = Math.max(0, face.x), y0 = Math.max(0, face.y);
      const truth = { x: x0, y: y0, width: Math.min(640, face.x + face.width) - x0, height: Math.min(480, face.y + face.height) - y0 };
      out.push({ image: await decodeRgb(await encodeJpeg(composite.image)), truth: [truth] });
    }
    return out;
  };
  // One face of a given width range, anywhere in the scene.
  const sized = async (n: number, widths: [number, number]) => {
    const out: Scene[] = [];
    for (let i = 0; i < n; i++) {
      const composite = await pasteFaces(busyBackground(640, 480, rng), gridPlacements([rng.pick(files)], 640, 480, widths, rng));
      const { box } = composite.faces[0];
      const truth = { x: box.x + faceBox.x * box.width, y: box.y + faceBox.y * box.height, width: faceBox.width * box.width, height: faceBox.height * box.height };
      out.push({ image: await decodeRgb(await encodeJpeg(composite.image)), truth: [truth] });
    }
    return out;
  };
  return {
    small: await sized(opts.sized, [30, 55]),
    large: await sized(opts.sized, [150, 380]),
    singles: await build(opts.singles, 1),
    crowds: await build(opts.crowds, 6),
    empties: await build(opts.empties, 0),
    quarterOff: await cuts(opts.cuts, 0.25),
    halfOff: await cuts(opts.cuts, 0.5),
  };
}

/**
 * Greedy matching at IoU >= 0.5: how many true faces were found, how many detections matched no face
 * (false detections: often a loose box on a face), and how many lie on no face at all (IoU < 0.1: strays).
 */
function match(found: Detection[], truth: Box[]): { hits: number; falsePositives: number; strays: number; ious: number[] } {
  const used = new Set<number>();
  const ious: number[] = [];
  for (const t of truth) {
    let best = -1, bestIou = 0.5;
    found.forEach((d, i) => {
      const v = iou(d.box, t);
      if (!used.has(i) && v >= bestIou) { best = i; bestIou = v; }
    });
    if (best >= 0) { used.add(best); ious.push(bestIou); }
  }
  const strays = found.filter((d) => truth.every((t) => iou(d.box, t) < 0.1)).length;
  return { hits: used.size, falsePositives: found.length - used.size, strays, ious };
}

interface SetResult {
  faces: number;
  found: number;
  falsePositives: number;
  strays: number;
  imagesWithFalsePositives: number;
  medianIou: number;
  msPerImage: number;
}

async function runSet(scenes: Scene[], detect: (image: RgbImage) => Promise<Detection[]>): Promise<SetResult> {
  let faces = 0, found = 0, falsePositives = 0, strays = 0, imagesWithFalsePositives = 0;
  const ious: number[] = [], ms: number[] = [];
  for (const s of scenes) {
    const t0 = performance.now();
    const detections = await detect(s.image);
    ms.push(performance.now() - t0);
    const m = match(detections, s.truth);
    faces += s.truth.length; found += m.hits; falsePositives += m.falsePositives; strays += m.strays; ious.push(...m.ious);
    if (m.falsePositives > 0) imagesWithFalsePositives++;
  }
  return { faces, found, falsePositives, strays, imagesWithFalsePositives, medianIou: median(ious), msPerImage: median(ms) };
}

interface Row {
  detector: string;
  options: DetectorOptions;
  att: { plain: SetResult; retry: SetResult };
  empties: { plain: SetResult; retry: SetResult };
  small: SetResult;
  singles: SetResult;
  large: SetResult;
  crowds: SetResult;
  quarterOff: SetResult;
  halfOff: SetResult;
}

const pct = (a: number, b: number) => `${a}/${b} (${((100 * a) / b).toFixed(0)}%)`;

async function main(): Promise<void> {
  const backend = await initBackend({ preference: 'wasm' });
  const started = new Date().toISOString();
  const loaded = new Map<string, FaceDetector>();
  for (const c of CANDIDATES) loaded.set(c.label, await loadDetector(c.options));
  const faceBox = await calibrateFaceBox([loaded.get('SSD-MobileNetV1 (512)')!, loaded.get('tiny 416')!]);
  process.stderr.write(`face box in the 92x112 frame: ${JSON.stringify(faceBox)}\n`);
  const frame = (image: RgbImage): Box => ({ x: faceBox.x * image.width, y: faceBox.y * image.height, width: faceBox.width * image.width, height: faceBox.height * image.height });
  const att: Scene[] = [];
  for (const file of testFiles()) {
    const image = await decodeRgb(file);
    att.push({ image, truth: [frame(image)] });
  }

  const borders = [];
  for (const label of BORDER_CANDIDATES) {
    const detector = loaded.get(label)!;
    for (const b of BORDERS) {
      // Only the retry pass differs: run it on every image, bordered, and shift its boxes back.
      const result = await runSet(att, async (image) => {
        const border = Math.round(Math.max(image.width, image.height) * b.retryBorder);
        const found = await detector.locate(addBorder(image, border, b.borderValue), 'retry');
        return found.map((d) => ({ ...d, box: { ...d.box, x: d.box.x - border, y: d.box.y - border } }));
      });
      borders.push({ detector: label, ...b, ...result });
    }
  }
  const bordersTable = [
    '| detector (retry pass) | border (fraction of the longer side) | border grey | AT&T 92x112 found on the bordered pass |',
    '|---|---|---|---|',
    ...borders.map((b) => `| ${b.detector} | ${b.retryBorder} | ${b.borderValue} | ${pct(b.found, b.faces)} |`),
    '',
  ].join('\n');
  const scenes = await makeScenes(faceBox);
  const rows: Row[] = [];
  for (const c of CANDIDATES) {
    const detector = loaded.get(c.label)!;
    const plain = (image: RgbImage) => findFaces(detector, image, { retryBorder: 0 });
    const retry = (image: RgbImage) => findFaces(detector, image);
    const row = {
      detector: c.label,
      options: c.options,
      att: { plain: await runSet(att, plain), retry: await runSet(att, retry) },
      small: await runSet(scenes.small, retry),
      singles: await runSet(scenes.singles, retry),
      large: await runSet(scenes.large, retry),
      crowds: await runSet(scenes.crowds, retry),
      empties: { plain: await runSet(scenes.empties, plain), retry: await runSet(scenes.empties, retry) },
      quarterOff: await runSet(scenes.quarterOff, retry),
      halfOff: await runSet(scenes.halfOff, retry),
    };
    process.stderr.write(`${c.label}: ${JSON.stringify(row)}\n`);
    rows.push(row);
  }

  const faceSets = ['small', 'singles', 'large', 'crowds', 'quarterOff', 'halfOff'] as const;
  const falsePositives = (r: Row) =>
    `${faceSets.reduce((n, k) => n + r[k].falsePositives, 0)} (${faceSets.reduce((n, k) => n + r[k].strays, 0)})`;

  // Speed: every detector on the same image in turn, so they share the machine's load of the moment.
  const timed = [...scenes.singles.slice(0, 20), ...att.slice(0, 20)];
  const ms = new Map<string, { scene: number[]; att: number[] }>(CANDIDATES.map((c) => [c.label, { scene: [], att: [] }]));
  for (const [i, s] of timed.entries()) {
    for (const c of CANDIDATES) {
      const t0 = performance.now();
      await findFaces(loaded.get(c.label)!, s.image);
      ms.get(c.label)![i < Math.min(20, scenes.singles.length) ? 'scene' : 'att'].push(performance.now() - t0);
    }
  }
  const ssdMs = ms.get(CANDIDATES[0].label)!;
  const speed = CANDIDATES.map((c) => {
    const m = ms.get(c.label)!;
    return {
      detector: c.label,
      msScene: median(m.scene),
      msAtt: median(m.att),
      sceneVsSsd: median(m.scene.map((v, i) => v / ssdMs.scene[i])),
      attVsSsd: median(m.att.map((v, i) => v / ssdMs.att[i])),
    };
  });

  const report = {
    command: `npx tsx scripts/research/face-detectors.ts --singles ${opts.singles} --crowds ${opts.crowds} --empties ${opts.empties} --cuts ${opts.cuts} --sized ${opts.sized} --seed ${opts.seed} --photos ${opts.photos}`,
    started,
    backend: backend.name,
    package: '@vladmandic/face-api',
    faceBoxInFrame: faceBox,
    rows,
    borders,
    speed,
  };
  const table = [
    `| detector | AT&T 92x112 found: one pass | with the border retry | 30-55 px faces | 60-120 px faces | 150-380 px faces | 6 faces of 60-120 px | faces 1/4 off the image | faces 1/2 off | false detections in the ${faceSets.reduce((n, k) => n + scenes[k].length, 0)} face scenes: all (on no face) | face-free scenes with a false detection: one pass (with retry) |`,
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) =>
      `| ${r.detector} | ${pct(r.att.plain.found, r.att.plain.faces)} | ${pct(r.att.retry.found, r.att.retry.faces)} | ${pct(r.small.found, r.small.faces)} | ${pct(r.singles.found, r.singles.faces)} | ${pct(r.large.found, r.large.faces)} | ${pct(r.crowds.found, r.crowds.faces)} | ${pct(r.quarterOff.found, r.quarterOff.faces)} | ${pct(r.halfOff.found, r.halfOff.faces)} | ${falsePositives(r)} | ${r.empties.plain.imagesWithFalsePositives}/${opts.empties} (${r.empties.retry.imagesWithFalsePositives}/${opts.empties}) |`),
    '',
    `| detector | ms per 640x480 scene | x SSD | ms per AT&T 92x112 face (with retry) | x SSD |`,
    '|---|---|---|---|---|',
    ...speed.map((r) => `| ${r.detector} | ${r.msScene.toFixed(0)} | ${r.sceneVsSsd.toFixed(2)} | ${r.msAtt.toFixed(0)} | ${r.attVsSsd.toFixed(2)} |`),
    '',
  ].join('\n') + `\n${bordersTable}`;
  await mkdir(opts.out, { recursive: true });
  await writeFileAtomic(join(opts.out, 'detectors.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(join(opts.out, 'detectors.md'), `<!-- ${report.command} (${started}, ${backend.name}) -->\n${table}`);
  process.stdout.write(table);
}

await main();
