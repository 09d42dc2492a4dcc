/**
 * Face alignment: from 68 landmarks to a 150x150 RGB chip in which every face sits the same way,
 * as dlib cut the chips its recognition net (the one face-api ships) was trained on:
 * `get_face_chip_details(shape, 150, 0.25)` + `extract_image_chip` in dlib's
 * image_transforms/interpolation.h (Boost licence). A least-squares similarity maps dlib's mean
 * face onto the landmarks; the chip samples the image bilinearly through it, from a 2x
 * image pyramid when the face is much bigger than the chip. Pure maths, deterministic.
 */
import type { Point } from './faceapi.js';
import type { RgbImage } from './pixels.js';
import { applySimilarity, fitSimilarity, similarityScale, type Similarity } from './similarity.js';

/** Chip side in pixels: the input size of face-api's recognition net. */
export const CHIP_SIZE = 150;
/** Margin around dlib's mean face, as a fraction of its size (dlib's face recognition example uses 0.25). */
export const CHIP_PADDING = 0.25;

// dlib's mean face shape for landmarks 17-67, in [0, 1] (interpolation.h, get_face_chip_details).
const MEAN_FACE_X = [
  0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124, 0.904991, 0.98004, 0.490127, 0.490127, 0.490127,
  0.490127, 0.36688, 0.426036, 0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918, 0.182743, 0.645647,
  0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149, 0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159,
  0.556721, 0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874, 0.553364, 0.490127, 0.42689,
];
const MEAN_FACE_Y = [
  0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915, 0.106454, 0.203352, 0.307009,
  0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077,
  0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233,
  0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];

/** The landmarks dlib fits: nose, eyes, outer mouth and upper inner lip (eyebrows, jaw and lower lip move with expression). */
const DLIB_FIT_POINTS: readonly number[] = [
  ...Array.from({ length: 55 - 27 }, (_, i) => 27 + i),
  ...Array.from({ length: 65 - 60 }, (_, i) => 60 + i),
];
const LEFT_EYE = [36, 37, 38, 39, 40, 41];
const RIGHT_EYE = [42, 43, 44, 45, 46, 47];

/** Which landmarks the similarity is fitted to: dlib's 33 points, or only the two eye centres. */
export type AlignPoints = 'dlib' | 'eyes';

export interface ChipOptions {
  /** Chip side in pixels. Default 150. */
  size?: number;
  /** Margin around the mean face. Default 0.25. */
  padding?: number;
  /** Default 'dlib'. */
  points?: AlignPoints;
}

/** Where landmark `index` (17-67) of dlib's mean face lands in a chip (pixel-centre coordinates). */
export function chipTemplatePoint(index: number, size = CHIP_SIZE, padding = CHIP_PADDING): Point {
  if (!(index >= 17 && index <= 67)) throw new RangeError(`dlib's mean face covers landmarks 17-67, not ${index}`);
  const scale = size / (2 * padding + 1);
  return { x: (padding + MEAN_FACE_X[index - 17]) * scale, y: (padding + MEAN_FACE_Y[index - 17]) * scale };
}

function centroid(points: readonly Point[]): Point {
  let x = 0, y = 0;
  for (const p of points) { x += p.x; y += p.y; }
  return { x: x / points.length, y: y / points.length };
}

/**
 * The similarity that takes chip pixel coordinates to image coordinates for a face with these 68
 * landmarks (face-api / iBUG order, image pixels).
 *
 * @example
 * const t = chipTransform(landmarks); // applySimilarity(t, { x: 75, y: 75 }) ≈ the face's centre
 */
export function chipTransform(landmarks: readonly Point[], options: ChipOptions = {}): Similarity {
  if (landmarks.length !== 68) throw new RangeError(`expected 68 landmarks, got ${landmarks.length}`);
  const size = options.size ?? CHIP_SIZE;
  const padding = options.padding ?? CHIP_PADDING;
  if ((options.points ?? 'dlib') === 'eyes') {
    const template = [LEFT_EYE, RIGHT_EYE].map((eye) => centroid(eye.map((i) => chipTemplatePoint(i, size, padding))));
    const found = [LEFT_EYE, RIGHT_EYE].map((eye) => centroid(eye.map((i) => landmarks[i])));
    return fitSimilarity(template, found);
  }
  return fitSimilarity(
    DLIB_FIT_POINTS.map((i) => chipTemplatePoint(i, size, padding)),
    DLIB_FIT_POINTS.map((i) => landmarks[i]),
  );
}

/** A float RGB image (values 0-255), row-major. */
interface FloatImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** Halves an image, each pixel the mean of a 2x2 block (a trailing odd row/column averages what exists). */
function halve(image: FloatImage): FloatImage {
  const width = Math.ceil(image.width / 2);
  const height = Math.ceil(image.height / 2);
  const data = new Float32Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const xs = x * 2 + 1 < image.width ? [x * 2, x * 2 + 1] : [x * 2];
      const ys = y * 2 + 1 < image.height ? [y * 2, y * 2 + 1] : [y * 2];
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (const sy of ys) for (const sx of xs) sum += image.data[(sy * image.width + sx) * 3 + c];
        data[(y * width + x) * 3 + c] = sum / (xs.length * ys.length);
      }
    }
  }
  return { data, width, height };
}

/** Outside the image: black, as dlib's chips (default), or the nearest edge pixel. */
export type ChipFill = 'black' | 'edge';

/**
 * Cuts a size x size RGB chip (float 0-255, HWC) through `transform` (chip → image coordinates,
 * where a landmark at x lies in pixel floor(x)). Bilinear; when a chip pixel spans more than 2
 * image pixels, it samples a 2x pyramid level instead, so big faces do not alias.
 *
 * @example
 * const chip = extractChip(rgb, chipTransform(landmarks)); // Float32Array(150 * 150 * 3)
 */
export function extractChip(image: RgbImage, transform: Similarity, size = CHIP_SIZE, fill: ChipFill = 'black'): Float32Array {
  const out = new Float32Array(size * size * 3);
  let levels = 0;
  for (let s = similarityScale(transform); s > 2; s /= 2) levels++;
  const step = 2 ** levels;

  // Only the part of the image under the chip (plus a margin for the pyramid) is copied.
  const corners = [
    { x: 0, y: 0 }, { x: size - 1, y: 0 }, { x: 0, y: size - 1 }, { x: size - 1, y: size - 1 },
  ].map((p) => applySimilarity(transform, p));
  const margin = 2 * step + 2;
  const x0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.x))) - margin);
  const y0 = Math.max(0, Math.floor(Math.min(...corners.map((p) => p.y))) - margin);
  const x1 = Math.min(image.width, Math.ceil(Math.max(...corners.map((p) => p.x))) + margin);
  const y1 = Math.min(image.height, Math.ceil(Math.max(...corners.map((p) => p.y))) + margin);
  if (x1 <= x0 || y1 <= y0) return out;

  let level: FloatImage = { data: new Float32Array((x1 - x0) * (y1 - y0) * 3), width: x1 - x0, height: y1 - y0 };
  for (let y = y0; y < y1; y++) {
    for (let i = x0 * 3; i < x1 * 3; i++) level.data[((y - y0) * level.width) * 3 + i - x0 * 3] = image.data[y * image.width * 3 + i];
  }
  for (let l = 0; l < levels; l++) level = halve(level);

  const { width, height, data } = level;
  const offset = (step - 1) / 2;
  for (let r = 0; r < size; r++) {
    for (let c = 0; c < size; c++) {
      const p = applySimilarity(transform, { x: c, y: r });
      // Image pixel-centre coordinates in the copied region, then in the pyramid level.
      let u = (p.x - 0.5 - x0 - offset) / step;
      let v = (p.y - 0.5 - y0 - offset) / step;
      if (fill === 'edge') {
        u = Math.min(width - 1, Math.max(0, u));
        v = Math.min(height - 1, Math.max(0, v));
      } else if (!(u >= 0 && v >= 0 && u <= width - 1 && v <= height - 1)) {
        continue; // outside the image: stays black
      }
      const left = Math.floor(u);
      const top = Math.floor(v);
      const right = Math.min(left + 1, width - 1);
      const bottom = Math.min(top + 1, height - 1);
      const o = (r * size + c) * 3;
      const fx = u - left;
      const fy = v - top;
      for (let ch = 0; ch < 3; ch++) {
        const tl = data[(top * width + left) * 3 + ch];
        const tr = data[(top * width + right) * 3 + ch];
        const bl = data[(bottom * width + left) * 3 + ch];
        const br = data[(bottom * width + right) * 3 + ch];
        out[o + ch] = (1 - fy) * ((1 - fx) * tl + fx * tr) + fy * ((1 - fx) * bl + fx * br);
      }
    }
  }
  return out;
}
