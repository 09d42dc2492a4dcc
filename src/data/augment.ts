/**
 * Image augmentation as pure functions on float images (HWC, one image): random affine distortions
 * in the style of Koch, Zemel & Salakhutdinov 2015 ("Siamese Neural Networks for One-shot Image
 * Recognition", section 4.2) and exact 90-degree rotations.
 *
 * Coordinates: x to the right, y **down** (image rows), pixel centres at integers; transforms act
 * about the image centre ((width - 1) / 2, (height - 1) / 2).
 */
import type { Rng } from './rng.js';

/**
 * An affine distortion, independent of image size. Applied as: scale, then shear, then rotate
 * (all about the centre), then shift.
 */
export interface Affine {
  /** Rotation in radians; positive turns the image clockwise on screen (y points down). */
  rotation: number;
  /** Shear factors: x' = x + shearX * y, y' = y + shearY * x. */
  shearX: number;
  shearY: number;
  /** Scale factors (1 = unchanged). */
  scaleX: number;
  scaleY: number;
  /** Shift as a fraction of the image width / height (2 / 28 moves a 28-pixel image by 2 pixels). */
  shiftX: number;
  shiftY: number;
}

/** The affine that changes nothing. */
export const IDENTITY_AFFINE: Readonly<Affine> = Object.freeze({
  rotation: 0,
  shearX: 0,
  shearY: 0,
  scaleX: 1,
  scaleY: 1,
  shiftX: 0,
  shiftY: 0,
});

/** Ranges `randomAffine` draws from (each uniformly). */
export interface AffineRanges {
  /** Largest rotation either way, in degrees. */
  rotationDeg: number;
  /** Largest shear factor either way, for x and y independently. */
  shear: number;
  /** Scale range, for x and y independently. */
  scale: [number, number];
  /** Largest shift either way, as a fraction of the image size. */
  shift: number;
  /** Probability that each of the 7 components is applied at all (else it stays at identity). */
  probability: number;
  /** Probability of a left-right mirror (scaleX negated): right for faces and products, wrong for characters. Default 0. */
  flipProbability?: number;
}

/**
 * Koch et al. 2015's ranges: rotation ±10°, shear ±0.3, scale 0.8-1.2, shift ±2 px at 105 px in the
 * paper; we keep ±2 px at 28 px (the size we train at, where one pixel is coarser), i.e. ±1/14 of the
 * image size at any resolution. Each component is applied with probability 0.5, as in the paper.
 */
export const KOCH_AFFINE_RANGES: Readonly<AffineRanges> = Object.freeze({
  rotationDeg: 10,
  shear: 0.3,
  scale: [0.8, 1.2] as [number, number],
  shift: 2 / 28,
  probability: 0.5,
});

/**
 * Wider ranges for photographs of the same subject in different poses (faces, products): rotation
 * ±20°, mild shear, scale 0.75-1.3, shift ±1/10 of the size, each component applied with probability 0.8.
 */
export const STRONG_AFFINE_RANGES: Readonly<AffineRanges> = Object.freeze({
  rotationDeg: 20,
  shear: 0.15,
  scale: [0.75, 1.3] as [number, number],
  shift: 0.1,
  probability: 0.8,
});

/**
 * Draws a random affine distortion. Always draws all 7 components (and 7 coin flips), so the number of
 * random draws per call is fixed and streams stay aligned whatever the ranges.
 *
 * @example
 * const rng = createRng(1);
 * const affine = randomAffine(rng);                      // Koch et al. ranges
 * const gentle = randomAffine(rng, { rotationDeg: 5 });  // override some ranges
 * const out = warpAffine(image, 28, 28, 1, affine, 0);
 */
export function randomAffine(rng: Rng, ranges: Partial<AffineRanges> = {}): Affine {
  const r = { ...KOCH_AFFINE_RANGES, ...ranges };
  const component = (draw: number, identity: number): number => (rng.next() < r.probability ? draw : identity);
  const maxRotation = (r.rotationDeg * Math.PI) / 180;
  // Drawn only when enabled, so streams of unflipped runs are unchanged.
  const mirror = (r.flipProbability ?? 0) > 0 && rng.next() < r.flipProbability! ? -1 : 1;
  const affine = {
    rotation: component(rng.uniform(-maxRotation, maxRotation), 0),
    shearX: component(rng.uniform(-r.shear, r.shear), 0),
    shearY: component(rng.uniform(-r.shear, r.shear), 0),
    scaleX: component(rng.uniform(r.scale[0], r.scale[1]), 1),
    scaleY: component(rng.uniform(r.scale[0], r.scale[1]), 1),
    shiftX: component(rng.uniform(-r.shift, r.shift), 0),
    shiftY: component(rng.uniform(-r.shift, r.shift), 0),
  };
  return mirror === 1 ? affine : { ...affine, scaleX: -affine.scaleX };
}

const isIdentity = (t: Affine): boolean =>
  t.rotation === 0 && t.shearX === 0 && t.shearY === 0 && t.scaleX === 1 && t.scaleY === 1 && t.shiftX === 0 && t.shiftY === 0;

function checkImage(src: Float32Array, width: number, height: number, channels: number): void {
  if (src.length !== width * height * channels) {
    throw new RangeError(`augment: image holds ${src.length} values, expected ${width}x${height}x${channels}`);
  }
}

/** Mean of an image's outermost pixels: the background a distortion fills uncovered corners with. */
export function borderMean(pixels: Float32Array, w: number, h: number, c: number): number {
  let sum = 0;
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x += y === 0 || y === h - 1 || w === 1 ? 1 : w - 1) {
      for (let k = 0; k < c; k++) sum += pixels[(y * w + x) * c + k]!;
      n += c;
    }
  }
  return sum / n;
}

/**
 * Applies `affine` to an HWC float image by inverse mapping: each output pixel samples the source,
 * bilinearly, at the point that the transform sends onto it. Source points outside the image read
 * `fill` (use the background value, e.g. 0 for inverted Omniglot).
 *
 * @example
 * warpAffine(image, 28, 28, 1, { ...IDENTITY_AFFINE, shiftX: 2 / 28 }, 0); // moved 2 px to the right
 */
export function warpAffine(
  src: Float32Array,
  width: number,
  height: number,
  channels: number,
  affine: Affine,
  fill: number,
): Float32Array {
  checkImage(src, width, height, channels);
  if (isIdentity(affine)) return src.slice();

  // Forward matrix M = R * Sh * S.
  const cos = Math.cos(affine.rotation);
  const sin = Math.sin(affine.rotation);
  const s00 = affine.scaleX;
  const s01 = affine.shearX * affine.scaleY;
  const s10 = affine.shearY * affine.scaleX;
  const s11 = affine.scaleY;
  const m00 = cos * s00 - sin * s10;
  const m01 = cos * s01 - sin * s11;
  const m10 = sin * s00 + cos * s10;
  const m11 = sin * s01 + cos * s11;
  const det = m00 * m11 - m01 * m10;
  if (!(Math.abs(det) > 1e-12)) throw new RangeError('warpAffine: the transform is singular');
  // Inverse matrix, for mapping output pixels back to the source.
  const i00 = m11 / det;
  const i01 = -m01 / det;
  const i10 = -m10 / det;
  const i11 = m00 / det;

  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const tx = affine.shiftX * width;
  const ty = affine.shiftY * height;
  const out = new Float32Array(src.length);
  const at = (x: number, y: number, c: number): number =>
    x >= 0 && x < width && y >= 0 && y < height ? src[(y * width + x) * channels + c] : fill;

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x - cx - tx;
      const dy = y - cy - ty;
      const sx = i00 * dx + i01 * dy + cx;
      const sy = i10 * dx + i11 * dy + cy;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let c = 0; c < channels; c++) {
        const top = at(x0, y0, c) * (1 - fx) + at(x0 + 1, y0, c) * fx;
        const bottom = at(x0, y0 + 1, c) * (1 - fx) + at(x0 + 1, y0 + 1, c) * fx;
        out[(y * width + x) * channels + c] = top * (1 - fy) + bottom * fy;
      }
    }
  }
  return out;
}

/**
 * Rotates a square HWC image by `quarterTurns` x 90 degrees clockwise on screen (negative turns go
 * anticlockwise). Exact: pixels move, none are resampled. Used to make new classes from old ones
 * (a rotated Omniglot character is a different character).
 *
 * @example
 * rotate90(image, 28, 28, 1, 1); // a quarter turn clockwise
 */
export function rotate90(src: Float32Array, width: number, height: number, channels: number, quarterTurns: number): Float32Array {
  checkImage(src, width, height, channels);
  if (width !== height) throw new RangeError(`rotate90: needs a square image, got ${width}x${height}`);
  if (!Number.isInteger(quarterTurns)) throw new RangeError(`rotate90: quarterTurns must be an integer, got ${quarterTurns}`);
  const turns = ((quarterTurns % 4) + 4) % 4;
  if (turns === 0) return src.slice();
  const n = width;
  const out = new Float32Array(src.length);
  for (let y = 0; y < n; y++) {
    for (let x = 0; x < n; x++) {
      // Source pixel that lands on (x, y) after `turns` clockwise quarter turns.
      let sx: number;
      let sy: number;
      if (turns === 1) [sx, sy] = [y, n - 1 - x];
      else if (turns === 2) [sx, sy] = [n - 1 - x, n - 1 - y];
      else [sx, sy] = [n - 1 - y, x];
      const from = (sy * n + sx) * channels;
      const to = (y * n + x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = src[from + c];
    }
  }
  return out;
}
