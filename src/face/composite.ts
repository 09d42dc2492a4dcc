/**
 * Test scenes for the face stage, with known answers: AT&T faces (92x112 grey) pasted at known
 * places and sizes onto a busy synthetic background (shapes, gradients and noise; no other face
 * data). Used by the face tests and scripts/research/face-detectors.ts; not part of the product.
 */
import sharp from 'sharp';
import type { Box } from './faceapi.js';
import { toRgb, type RgbImage } from './pixels.js';
import type { Rng } from '../data/rng.js';

/** AT&T images are 92x112. */
export const ATT_WIDTH = 92;
export const ATT_HEIGHT = 112;

export interface Placement {
  /** A 92x112 AT&T PNG. */
  file: string;
  /** Where the whole pasted image lands (its width sets the scale; height follows 92:112). */
  x: number;
  y: number;
  width: number;
}

export interface Composite {
  image: RgbImage;
  /** One per pasted face: the file and the rectangle it covers. */
  faces: { file: string; box: Box }[];
}

/**
 * A width x height RGB scene of random rectangles, ellipses and lines over a gradient, plus
 * Gaussian pixel noise (sigma `noise`): the kind of clutter that draws false detections.
 *
 * @example
 * const scene = busyBackground(640, 480, createRng(1));
 */
export function busyBackground(width: number, height: number, rng: Rng, noise = 20): RgbImage {
  const data = new Float32Array(width * height * 3);
  const c0 = [rng.int(256), rng.int(256), rng.int(256)];
  const c1 = [rng.int(256), rng.int(256), rng.int(256)];
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = (x + y) / (width + height);
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = c0[c] * (1 - t) + c1[c] * t;
    }
  }
  const paint = (inside: (x: number, y: number) => boolean, box: Box, colour: number[]) => {
    const xa = Math.max(0, Math.floor(box.x)), xb = Math.min(width, Math.ceil(box.x + box.width));
    const ya = Math.max(0, Math.floor(box.y)), yb = Math.min(height, Math.ceil(box.y + box.height));
    for (let y = ya; y < yb; y++) for (let x = xa; x < xb; x++) if (inside(x, y)) data.set(colour, (y * width + x) * 3);
  };
  for (let i = 0; i < 60; i++) {
    const colour = [rng.int(256), rng.int(256), rng.int(256)];
    const box = { x: rng.uniform(-40, width), y: rng.uniform(-40, height), width: rng.uniform(10, 160), height: rng.uniform(10, 160) };
    const kind = rng.int(3);
    if (kind === 0) paint(() => true, box, colour);
    else if (kind === 1) {
      const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
      paint((x, y) => ((x - cx) / (box.width / 2)) ** 2 + ((y - cy) / (box.height / 2)) ** 2 <= 1, box, colour);
    } else {
      // A thick line across the box.
      const slope = box.height / box.width;
      paint((x, y) => Math.abs(y - box.y - (x - box.x) * slope) < 3, box, colour);
    }
  }
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(data[i] + rng.normal() * noise)));
  return { data: out, width, height };
}

/**
 * Pastes AT&T faces (grey, resized with sharp) onto a copy of `background`.
 *
 * @example
 * const scene = await pasteFaces(busyBackground(640, 480, rng), [{ file: 's31/1.png', x: 100, y: 80, width: 90 }]);
 */
export async function pasteFaces(background: RgbImage, placements: readonly Placement[]): Promise<Composite> {
  const data = Uint8Array.from(background.data);
  const faces: Composite['faces'] = [];
  for (const p of placements) {
    const height = Math.round((p.width * ATT_HEIGHT) / ATT_WIDTH);
    const grey = await sharp(p.file).extractChannel(0).resize(p.width, height, { fit: 'fill' }).raw().toBuffer();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < p.width; x++) {
        const tx = p.x + x, ty = p.y + y;
        if (tx < 0 || ty < 0 || tx >= background.width || ty >= background.height) continue;
        const o = (ty * background.width + tx) * 3;
        data[o] = data[o + 1] = data[o + 2] = grey[y * p.width + x];
      }
    }
    faces.push({ file: p.file, box: { x: p.x, y: p.y, width: p.width, height } });
  }
  return { image: { data, width: background.width, height: background.height }, faces };
}

/**
 * Placements for `files` on a width x height scene, one per cell of a near-square grid (so they
 * never overlap), each `widths[0]`-`widths[1]` px wide at a random place in its cell.
 *
 * @example
 * gridPlacements(['a.png', 'b.png'], 640, 480, [60, 120], rng);
 */
export function gridPlacements(files: readonly string[], width: number, height: number, widths: [number, number], rng: Rng): Placement[] {
  const cols = Math.ceil(Math.sqrt((files.length * width) / height));
  const rows = Math.ceil(files.length / cols);
  const cellW = Math.floor(width / cols), cellH = Math.floor(height / rows);
  return files.map((file, i) => {
    const w = Math.min(Math.round(rng.uniform(widths[0], widths[1] + 1)), cellW, Math.floor((cellH * ATT_WIDTH) / ATT_HEIGHT));
    const h = Math.round((w * ATT_HEIGHT) / ATT_WIDTH);
    const col = i % cols, row = Math.floor(i / cols);
    return { file, width: w, x: col * cellW + rng.int(cellW - w + 1), y: row * cellH + rng.int(cellH - h + 1) };
  });
}

/**
 * Decodes an image file or bytes to RGB with sharp (grey stays one channel until `toRgb`).
 *
 * @example
 * const face = await decodeRgb('s31/1.png'); // 92x112
 */
export async function decodeRgb(input: string | Buffer): Promise<RgbImage> {
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return toRgb(data, info.width, info.height);
}

/** Encodes an RGB image as JPEG (sharp), as a photo would arrive. */
export function encodeJpeg(image: RgbImage, quality = 85): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }).jpeg({ quality }).toBuffer();
}
