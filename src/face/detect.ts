/**
 * Face detection with face-api's detectors (the tiny YOLO-style detector or SSD-MobileNetV1), on
 * raw RGB pixels, boxes in the caller's pixels. The tiny detector sees faces of a limited range of
 * sizes at one input size, so it looks at two (512 for small faces, 224 for big ones) and merges
 * what both find. Both detectors miss faces that fill the whole frame (passport-style crops such as
 * AT&T's 92x112 faces): when the first look finds nothing, a second one runs on the image
 * surrounded by a grey border, which shows them the face at a scale they know.
 */
import * as tf from '@tensorflow/tfjs';
import type { Box, FaceApiDetection } from './faceapi.js';
import { loadNet } from './nets.js';
import { addBorder, downscale, type RgbImage } from './pixels.js';
import type { WeightFile } from './weights.js';

export type DetectorName = 'ssd' | 'tiny';

export interface DetectorOptions {
  /** Default 'tiny' (docs/research/2026-12-face-stage.md: as many faces found, no false ones, a fraction of SSD's time). */
  name?: DetectorName;
  /** Lowest detection score kept. Default 0.5. */
  minScore?: number;
  /** Most faces returned per image. Default 100. */
  maxFaces?: number;
  /** Tiny detector: input sides of the first pass (multiples of 32), results merged. Default [512, 224]. SSD always sees 512. */
  inputSizes?: number[];
  /** Tiny detector: input side of the bordered retry pass. Default 224 (it sees whole-frame faces best). */
  retryInputSize?: number;
  /** Border of the retry pass as a fraction of the image's longer side; 0: no retry. Default 1 (tiny), 0.5 (SSD). */
  retryBorder?: number;
}

/** Measured defaults (scripts/research/face-detectors.ts). */
const DEFAULTS: Record<DetectorName, Required<Omit<DetectorOptions, 'name' | 'minScore' | 'maxFaces'>>> = {
  tiny: { inputSizes: [512, 224], retryInputSize: 224, retryBorder: 1 },
  ssd: { inputSizes: [512], retryInputSize: 512, retryBorder: 0.5 },
};

/** Intersection over union of two boxes. */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.width * a.height + b.width * b.height - inter);
}

/**
 * Non-maximum suppression over detections from several passes: highest score first, dropping any
 * box that overlaps a kept one with IoU >= `threshold` (the same face seen at two input sizes).
 *
 * @example
 * mergeDetections([...at512, ...at224]); // each face once
 */
export function mergeDetections(detections: readonly Detection[], threshold = 0.5): Detection[] {
  const kept: Detection[] = [];
  for (const d of [...detections].sort((a, b) => b.score - a.score)) {
    if (kept.every((k) => iou(k.box, d.box) < threshold)) kept.push(d);
  }
  return kept;
}

export interface Detection {
  /** In the pixels of the image passed in. */
  box: Box;
  score: number;
}

/** A detector pass: the first look at an image, or the retry on it inside a border. */
export type DetectorPass = 'first' | 'retry';

/** A detector's resolved settings, as a model card records them. */
export interface DetectorSettings {
  name: DetectorName;
  minScore: number;
  maxFaces: number;
  /** Input sides of the first look (SSD: always [512]). */
  inputSizes: number[];
  retryInputSize: number;
  /** Border of the retry look, as a fraction of the image's longer side (0: no retry). */
  retryBorder: number;
}

export interface FaceDetector {
  readonly name: DetectorName;
  readonly settings: DetectorSettings;
  readonly files: WeightFile[];
  /** Border of the retry pass (fraction of the longer side; 0: none). */
  readonly retryBorder: number;
  /** One detector pass over an image. */
  locate(image: RgbImage, pass?: DetectorPass): Promise<Detection[]>;
  dispose(): void;
}

interface LoadedPasses {
  files: WeightFile[];
  /** One list of detections per input size the pass looks at. */
  run(input: tf.Tensor3D, pass: DetectorPass): Promise<FaceApiDetection[][]>;
  dispose(): void;
}

async function loadPasses(name: DetectorName, minScore: number, maxFaces: number, sizes: { first: number[]; retry: number }): Promise<LoadedPasses> {
  if (name === 'ssd') {
    const { net, files } = await loadNet('ssd');
    return { files, run: async (input) => [await net.locateFaces(input, { minConfidence: minScore, maxResults: maxFaces })], dispose: () => net.dispose() };
  }
  const { net, files } = await loadNet('tiny');
  const look = (input: tf.Tensor3D, inputSize: number) => net.locateFaces(input, { inputSize, scoreThreshold: minScore });
  return {
    files,
    run: async (input, pass) => {
      const lists: FaceApiDetection[][] = [];
      for (const size of pass === 'first' ? sizes.first : [sizes.retry]) lists.push(await look(input, size));
      return lists;
    },
    dispose: () => net.dispose(),
  };
}

/**
 * @example
 * const detector = await loadDetector({ name: 'tiny', inputSizes: [416] });
 * const faces = await detector.locate(rgb); // [{ box: { x, y, width, height }, score }]
 */
export async function loadDetector(options: DetectorOptions = {}): Promise<FaceDetector> {
  const name = options.name ?? 'tiny';
  const minScore = options.minScore ?? 0.5;
  const maxFaces = options.maxFaces ?? 100;
  const { inputSizes, retryInputSize, retryBorder } = { ...DEFAULTS[name], ...withoutUndefined(options) };
  if (!(minScore > 0 && minScore < 1)) throw new RangeError(`minScore must be in (0, 1), got ${minScore}`);
  if (inputSizes.length === 0) throw new RangeError('inputSizes needs at least one size');
  for (const size of [...inputSizes, retryInputSize]) {
    if (!(size >= 32 && size % 32 === 0)) throw new RangeError(`input sizes must be positive multiples of 32, got ${size}`);
  }
  if (!(retryBorder >= 0)) throw new RangeError(`retryBorder must be >= 0, got ${retryBorder}`);
  const passes = await loadPasses(name, minScore, maxFaces, { first: inputSizes, retry: retryInputSize });
  return {
    name,
    settings: { name, minScore, maxFaces, inputSizes: [...inputSizes], retryInputSize, retryBorder },
    files: passes.files,
    retryBorder,
    async locate(image, pass = 'first') {
      const input = tf.tensor3d(image.data, [image.height, image.width, 3], 'int32');
      try {
        const lists = await passes.run(input, pass);
        const found = lists.map((list) =>
          list.map((d) => ({
            score: d.score,
            box: {
              x: d.relativeBox.x * image.width,
              y: d.relativeBox.y * image.height,
              width: d.relativeBox.width * image.width,
              height: d.relativeBox.height * image.height,
            },
          })),
        );
        return (found.length === 1 ? found[0] : mergeDetections(found.flat())).slice(0, maxFaces);
      } finally {
        input.dispose();
      }
    },
    dispose: passes.dispose,
  };
}

/**
 * One line for reports: e.g. "tiny 512 + 224, retry at 224 in a border of 1".
 *
 * @example
 * describeDetector(detector.settings); // 'ssd 512, retry at 512 in a border of 0.5'
 */
export function describeDetector(s: DetectorSettings): string {
  const retry = s.retryBorder > 0 ? `, retry at ${s.retryInputSize} in a border of ${s.retryBorder}` : ', no retry';
  return `${s.name} ${s.inputSizes.join(' + ')}${retry}`;
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface FindOptions {
  /** Overrides the detector's retry border (0: no retry). */
  retryBorder?: number;
  /** Grey level of that border. Default 128. */
  borderValue?: number;
  /** Images longer than this are shrunk by an integer factor first (the detectors see 512 px or less). Default 1024. */
  maxSide?: number;
}

/** Clips a box to the image; null when nothing of it is left. */
function clip(box: Box, width: number, height: number): Box | null {
  const x = Math.max(0, box.x);
  const y = Math.max(0, box.y);
  const right = Math.min(width, box.x + box.width);
  const bottom = Math.min(height, box.y + box.height);
  return right > x && bottom > y ? { x, y, width: right - x, height: bottom - y } : null;
}

/**
 * Finds faces: one pass, and when it finds none, one pass on the image inside a grey border.
 * Boxes are clipped to the image, largest first.
 *
 * @example
 * const found = await findFaces(detector, toRgb(pixels, 92, 112)); // the AT&T face, found on the retry
 */
export async function findFaces(detector: FaceDetector, image: RgbImage, options: FindOptions = {}): Promise<Detection[]> {
  const retryBorder = options.retryBorder ?? detector.retryBorder;
  const maxSide = options.maxSide ?? 1024;
  const factor = Math.max(1, Math.ceil(Math.max(image.width, image.height) / maxSide));
  const small = downscale(image, factor);
  let found = await detector.locate(small);
  let [shift, scale] = [0, factor];
  if (found.length === 0 && retryBorder > 0) {
    // The bordered image obeys maxSide too: the detector would shrink it anyway, at a higher cost.
    const retryFactor = Math.max(1, Math.ceil((Math.max(image.width, image.height) * (1 + 2 * retryBorder)) / maxSide));
    const retry = downscale(image, retryFactor);
    shift = Math.round(Math.max(retry.width, retry.height) * retryBorder);
    scale = retryFactor;
    found = await detector.locate(addBorder(retry, shift, options.borderValue ?? 128), 'retry');
  }
  const faces: Detection[] = [];
  for (const d of found) {
    const box = clip(
      { x: (d.box.x - shift) * scale, y: (d.box.y - shift) * scale, width: d.box.width * scale, height: d.box.height * scale },
      image.width,
      image.height,
    );
    if (box) faces.push({ box, score: d.score });
  }
  return faces.sort((a, b) => b.box.width * b.box.height - a.box.width * a.box.height);
}
