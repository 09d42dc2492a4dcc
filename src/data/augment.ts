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
  /** Scale x and y by the same factor (a zoom, as for photos taken nearer or farther) instead of independently. Default false. */
  isotropic?: boolean;
  /** Random lighting changes applied after the warp (photographs); absent = none. */
  photometric?: PhotometricRanges;
  /** Random erasing applied last (occlusions: glasses, hands, labels); absent = none. */
  erase?: EraseRanges;
}

/**
 * Ranges of random lighting changes, each drawn uniformly and applied to every image: for photographs
 * taken under different lighting (faces), not for line art.
 */
export interface PhotometricRanges {
  /** Largest brightness offset either way, as a fraction of the image's own value range (max - min). */
  brightness: number;
  /** Largest contrast change either way: values are scaled about the image mean by a factor in [1 - c, 1 + c]. */
  contrast: number;
  /** Gamma drawn log-uniformly in [1 / (1 + g), 1 + g], applied to the image rescaled to [0, 1] by its min and max. */
  gamma: number;
  /**
   * Largest side lighting: a linear ramp in a random direction whose ends differ by up to this fraction of the
   * image's value range (light from one side). Absent or 0 = none.
   */
  shading?: number;
}

/**
 * Random erasing (Zhong, Zheng, Kang, Li & Yang 2020): with some probability, one rectangle of the
 * image is replaced by noise, so the tower cannot rely on any one region and copes with occlusions.
 * The paper's defaults are probability 0.5, area 0.02-0.4 of the image, aspect ratio 0.3-3.3.
 */
export interface EraseRanges {
  /** Probability that an image gets a rectangle erased. */
  probability: number;
  /** Area of the rectangle as a fraction of the image, drawn uniformly in [min, max]. */
  area: [number, number];
  /** Height / width of the rectangle, drawn log-uniformly in [min, max]. */
  aspect: [number, number];
}

/** The paper's ranges, for `--erase P` without an area. */
export const ERASE_DEFAULTS: Readonly<Omit<EraseRanges, 'probability'>> = Object.freeze({
  area: [0.02, 0.4] as [number, number],
  aspect: [0.3, 1 / 0.3] as [number, number],
});

/** A rectangle in pixels: columns [left, left + width), rows [top, top + height). */
export interface PixelRect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Draws the rectangle to erase from a `width` x `height` image, or null (not erased this time).
 * Always four draws, so streams stay aligned whether or not an image is erased; a rectangle that
 * would not fit is clipped to the image.
 *
 * @example
 * const rect = randomEraseRect(rng, { probability: 0.5, ...ERASE_DEFAULTS }, 48, 56);
 * if (rect) image = eraseRect(image, 48, 56, 1, rect, rng);
 */
export function randomEraseRect(rng: Rng, ranges: EraseRanges, width: number, height: number): PixelRect | null {
  const apply = rng.next() < ranges.probability;
  const area = rng.uniform(ranges.area[0], ranges.area[1]) * width * height;
  const aspect = Math.exp(rng.uniform(Math.log(ranges.aspect[0]), Math.log(ranges.aspect[1])));
  const place = rng.next();
  if (!apply) return null;
  const w = Math.max(1, Math.min(width, Math.round(Math.sqrt(area / aspect))));
  const h = Math.max(1, Math.min(height, Math.round(Math.sqrt(area * aspect))));
  // One draw picks one of the (width - w + 1) x (height - h + 1) positions.
  const cell = Math.floor(place * (width - w + 1) * (height - h + 1));
  return { left: cell % (width - w + 1), top: Math.floor(cell / (width - w + 1)), width: w, height: h };
}

/**
 * Replaces `rect` of an HWC float image with noise drawn uniformly between the image's own minimum
 * and maximum (any normalisation), as the paper's best variant does.
 *
 * @example
 * eraseRect(image, 48, 56, 1, { left: 10, top: 20, width: 12, height: 8 }, createRng(1));
 */
export function eraseRect(src: Float32Array, width: number, height: number, channels: number, rect: PixelRect, rng: Rng): Float32Array {
  checkImage(src, width, height, channels);
  const { lo, hi } = valueRange(src);
  const out = src.slice();
  for (let y = rect.top; y < Math.min(height, rect.top + rect.height); y++) {
    for (let x = rect.left; x < Math.min(width, rect.left + rect.width); x++) {
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = rng.uniform(lo, hi);
    }
  }
  return out;
}

/** One draw of `randomPhotometric`. */
export interface Photometric {
  /** Offset as a fraction of the image's value range. */
  brightness: number;
  contrast: number;
  gamma: number;
  /** Side lighting: ramp strength (fraction of the value range, end to end) and direction in radians. */
  shading?: { strength: number; angle: number };
}

/**
 * Draws a random lighting change. Always three draws, so streams stay aligned whatever the ranges.
 *
 * @example
 * adjustPhotometric(image, randomPhotometric(rng, { brightness: 0.1, contrast: 0.2, gamma: 0.3 }));
 */
export function randomPhotometric(rng: Rng, ranges: PhotometricRanges): Photometric {
  const g = Math.log(1 + Math.max(0, ranges.gamma));
  return {
    brightness: rng.uniform(-ranges.brightness, ranges.brightness),
    contrast: rng.uniform(1 - ranges.contrast, 1 + ranges.contrast),
    gamma: Math.exp(rng.uniform(-g, g)),
    // Drawn only when enabled, so streams without shading are unchanged.
    ...(ranges.shading ? { shading: { strength: rng.uniform(0, ranges.shading), angle: rng.uniform(0, 2 * Math.PI) } } : {}),
  };
}

/** Smallest and largest value of an image: the scale the lighting changes work relative to. */
function valueRange(src: Float32Array): { lo: number; hi: number } {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of src) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return { lo, hi };
}

/**
 * Adds side lighting to an HWC float image: a linear ramp along `angle` (0 = brighter to the right, y down)
 * whose two ends differ by `strength` times the image's value range, zero at the centre.
 *
 * @example
 * addShading(image, 32, 32, 1, { strength: 0.3, angle: 0 }); // right edge +15% of the range, left edge -15%
 */
export function addShading(src: Float32Array, width: number, height: number, channels: number, shading: { strength: number; angle: number }): Float32Array {
  checkImage(src, width, height, channels);
  const { lo, hi } = valueRange(src);
  const amount = shading.strength * (hi > lo ? hi - lo : 0);
  const cos = Math.cos(shading.angle);
  const sin = Math.sin(shading.angle);
  // Normalise so the ramp spans exactly `amount` between the two image corners furthest along the direction.
  const span = Math.abs(cos) * (width - 1) + Math.abs(sin) * (height - 1) || 1;
  const out = new Float32Array(src.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const ramp = (amount * ((x - (width - 1) / 2) * cos + (y - (height - 1) / 2) * sin)) / span;
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = src[(y * width + x) * channels + c]! + ramp;
    }
  }
  return out;
}

/**
 * Applies a lighting change to a float image of any normalisation (it works relative to the image's
 * own min, max and mean): gamma on the min-max rescaled values, then contrast about the mean, then
 * the brightness offset. A flat image is returned unchanged.
 *
 * @example
 * adjustPhotometric(image, { brightness: 0, contrast: 1.2, gamma: 1 }); // 20% more contrast
 */
export function adjustPhotometric(src: Float32Array, p: Photometric): Float32Array {
  const { lo, hi } = valueRange(src);
  const range = hi - lo;
  // A flat image has no range to scale an offset by: nothing to change.
  if (!(range > 1e-12)) return src.slice();
  const out = new Float32Array(src.length);
  let sum = 0;
  for (let i = 0; i < src.length; i++) {
    const v = p.gamma === 1 ? src[i]! : lo + range * ((src[i]! - lo) / range) ** p.gamma;
    out[i] = v;
    sum += v;
  }
  const mean = sum / src.length;
  const offset = p.brightness * range;
  for (let i = 0; i < out.length; i++) out[i] = (out[i]! - mean) * p.contrast + mean + offset;
  return out;
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
  // Both scales were drawn either way, so the stream is the same with and without `isotropic`.
  if (r.isotropic) affine.scaleY = affine.scaleX;
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
