/**
 * How an image file becomes the tower's input: one function used by training, indexing and serving,
 * so the three can never preprocess differently.
 *
 * Pipeline (sharp, or png-at-size.ts's identical JavaScript path for a plain PNG already at the input
 * size): decode (first frame/page only) → EXIF orientation → flatten transparency onto
 * white → greyscale or sRGB → resize to width x height → raw 8-bit pixels; then the pure
 * `toModelInput`: scale to [0, 1] → optional inversion (1 - x) → (x - mean) / std.
 *
 * Background colour: transparent pixels and `contain` letterbox bars are always **white**, whatever
 * `invert` says. White is how viewers show transparency, it is the paper of scanned or drawn
 * images (Omniglot is black strokes on white), and with `invert: true` white becomes 0, the same
 * value as the rest of the page after inversion. (Black bars for `invert: true` would turn into
 * bright frames around the strokes after inversion.)
 */
import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { checkCropRegion, type CropRegion, type PreprocessConfig } from '../model/config.js';
import { decodePngAtInputSize } from './png-at-size.js';

/** Default cap on decoded pixels (width x height) of an input image: guards against decompression bombs. */
export const DEFAULT_LIMIT_INPUT_PIXELS = 40_000_000;

/** Colour used for transparency and letterbox bars (see the module comment). */
export const BACKGROUND = { r: 255, g: 255, b: 255 } as const;

/**
 * Resampling kernel. Mitchell-Netravali is anti-aliased like lanczos3 but rings far less, which
 * matters for 1-bit line art (Omniglot strokes) shrunk about 4x to 28x28.
 */
export const RESIZE_KERNEL = 'mitchell' as const;

export type ImageDecodeErrorCode = 'UNSUPPORTED_IMAGE' | 'CORRUPT_IMAGE' | 'IMAGE_TOO_LARGE' | 'EMPTY_IMAGE';

/** An image that could not be decoded; `code` is stable (API responses and gallery reports rely on it). */
export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';
  constructor(
    readonly code: ImageDecodeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface PreprocessOptions {
  /** Reject images with more decoded pixels than this. Default `DEFAULT_LIMIT_INPUT_PIXELS`. */
  limitInputPixels?: number;
}

/** Where an input came from, for error messages. */
function describeInput(input: Uint8Array | string): string {
  return typeof input === 'string' ? input : `an image of ${input.byteLength} bytes`;
}

/** Maps sharp's plain `Error` messages (it sets no codes) onto our stable codes. */
export function classifySharpError(error: unknown, input: Uint8Array | string, limit: number): ImageDecodeError {
  const message = error instanceof Error ? error.message : String(error);
  const what = describeInput(input);
  if (/unsupported image format/i.test(message)) {
    return new ImageDecodeError(
      'UNSUPPORTED_IMAGE',
      `${what} is not an image format we can decode (JPEG, PNG, WebP, GIF, TIFF, AVIF are)`,
      { cause: error },
    );
  }
  if (/exceeds pixel limit/i.test(message)) {
    return new ImageDecodeError('IMAGE_TOO_LARGE', `${what} has more than ${limit} pixels`, { cause: error });
  }
  if (/is empty/i.test(message)) {
    return new ImageDecodeError('EMPTY_IMAGE', `${what} is empty`, { cause: error });
  }
  return new ImageDecodeError('CORRUPT_IMAGE', `${what} is corrupt or truncated: ${message}`, { cause: error });
}

/** Throws a RangeError naming the bad field of a preprocess config. */
export function checkPreprocessConfig(pre: PreprocessConfig): void {
  for (const key of ['width', 'height'] as const) {
    if (!Number.isInteger(pre[key]) || pre[key] <= 0) {
      throw new RangeError(`preprocess: ${key} must be a positive integer, got ${pre[key]}`);
    }
  }
  if (pre.channels !== 1 && pre.channels !== 3) {
    throw new RangeError(`preprocess: channels must be 1 or 3, got ${String(pre.channels)}`);
  }
  if (!(pre.std > 0) || !Number.isFinite(pre.mean)) {
    throw new RangeError(`preprocess: need a finite mean and std > 0, got mean ${pre.mean}, std ${pre.std}`);
  }
  if (pre.crop) checkCropRegion(pre.crop);
}

/** A crop in fractions → whole pixels of a width x height image (at least 1 x 1, never past the edges). */
export function cropPixels(crop: CropRegion, width: number, height: number): { left: number; top: number; width: number; height: number } {
  const left = Math.min(width - 1, Math.round(crop.left * width));
  const top = Math.min(height - 1, Math.round(crop.top * height));
  return {
    left,
    top,
    width: Math.max(1, Math.min(width - left, Math.round(crop.width * width))),
    height: Math.max(1, Math.min(height - top, Math.round(crop.height * height))),
  };
}

/**
 * Decodes an image into raw 8-bit pixels of `pre.height x pre.width x pre.channels` (row-major, channels last).
 * Exposed separately from `preprocessImage` so callers needing bytes (thumbnails, tests) share the same decode.
 * A plain PNG already at the input size skips sharp (same pixels, see png-at-size.ts); everything else goes
 * through `decodeWithSharp`.
 *
 * @example
 * const raw = await decodeToRaw(bytes, { ...DEFAULT_PREPROCESS, width: 28, height: 28 }); // Uint8Array(784)
 */
export async function decodeToRaw(
  input: Uint8Array | string,
  pre: PreprocessConfig,
  options: PreprocessOptions = {},
): Promise<Uint8Array> {
  checkPreprocessConfig(pre);
  // Read files ourselves: file-system errors (ENOENT, EACCES) then keep their own codes and path.
  const bytes = typeof input === 'string' ? await readFile(input) : input;
  if (bytes.byteLength === 0) {
    throw new ImageDecodeError('EMPTY_IMAGE', `${describeInput(input)} is empty (0 bytes)`);
  }
  return decodePngAtInputSize(bytes, pre) ?? decodeWithSharp(bytes, pre, options, input);
}

/**
 * The reference decode: sharp's pipeline (first frame, EXIF orientation, optional crop, flatten onto white,
 * greyscale or sRGB, resize with `RESIZE_KERNEL`). `decodeToRaw` uses it for every image the
 * JavaScript PNG path does not take.
 *
 * @example
 * const raw = await decodeWithSharp(jpegBytes, card.preprocess); // Uint8Array(784) for 28x28x1
 */
export async function decodeWithSharp(
  bytes: Uint8Array,
  pre: PreprocessConfig,
  options: PreprocessOptions = {},
  source: Uint8Array | string = bytes,
): Promise<Uint8Array> {
  checkPreprocessConfig(pre);
  const limit = options.limitInputPixels ?? DEFAULT_LIMIT_INPUT_PIXELS;
  const open = (): Sharp =>
    sharp(bytes, {
      limitInputPixels: limit,
      // Only the first frame of an animated GIF/WebP or multi-page TIFF (sharp's default, stated for clarity).
      pages: 1,
      // Truncated or damaged files are errors, not silently half-grey images. ('warning', sharp's default,
      // would also reject common camera JPEGs that merely carry stray bytes between markers.)
      failOn: 'truncated',
    });

  let result: { data: Buffer; info: OutputInfo };
  try {
    let pipeline = open().rotate();
    if (pre.crop) {
      // The crop is in the oriented image's coordinates, so it needs the size after EXIF rotation.
      const { autoOrient } = await open().metadata();
      pipeline = pipeline.extract(cropPixels(pre.crop, autoOrient.width, autoOrient.height));
    }
    pipeline = pipeline.flatten({ background: BACKGROUND });
    pipeline = pre.channels === 1 ? pipeline.greyscale() : pipeline.toColourspace('srgb');
    result = await pipeline
      .resize(pre.width, pre.height, { fit: pre.fit, kernel: RESIZE_KERNEL, background: BACKGROUND })
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw classifySharpError(error, source, limit);
  }
  const { data, info } = result;
  if (info.width !== pre.width || info.height !== pre.height || info.channels !== pre.channels) {
    // A sharp behaviour change would otherwise silently scramble every tensor.
    throw new Error(
      `preprocess: sharp returned ${info.width}x${info.height}x${info.channels}, expected ${pre.width}x${pre.height}x${pre.channels}`,
    );
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Pure: raw 8-bit pixels → the tower's float input. x / 255, then 1 - x if `pre.invert`, then (x - mean) / std.
 *
 * @example
 * toModelInput(new Uint8Array([0, 255]), { ...DEFAULT_PREPROCESS, width: 2, height: 1, invert: true });
 * // Float32Array [1, 0]
 */
export function toModelInput(raw: Uint8Array, pre: PreprocessConfig, out?: Float32Array): Float32Array {
  const expected = pre.width * pre.height * pre.channels;
  if (raw.length !== expected) {
    throw new RangeError(`toModelInput: got ${raw.length} values, expected ${pre.width}x${pre.height}x${pre.channels} = ${expected}`);
  }
  const target = out ?? new Float32Array(expected);
  if (target.length !== expected) throw new RangeError(`toModelInput: output holds ${target.length} values, expected ${expected}`);
  // Fold scale, inversion and normalisation into one multiply-add per pixel.
  const sign = pre.invert ? -1 : 1;
  const scale = sign / (255 * pre.std);
  const offset = ((pre.invert ? 1 : 0) - pre.mean) / pre.std;
  for (let i = 0; i < expected; i++) target[i] = raw[i] * scale + offset;
  if (pre.standardize) standardizeInPlace(target);
  return target;
}

/** Per-image standardisation: zero mean, unit standard deviation (a flat image becomes all zeros). */
function standardizeInPlace(x: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i]!;
  const mean = sum / x.length;
  let sq = 0;
  for (let i = 0; i < x.length; i++) sq += (x[i]! - mean) ** 2;
  const std = Math.sqrt(sq / x.length);
  const inv = std > 1e-6 ? 1 / std : 0;
  for (let i = 0; i < x.length; i++) x[i] = (x[i]! - mean) * inv;
}

/**
 * Decodes and preprocesses one image (bytes or a file path) into a `Float32Array` of
 * `height * width * channels` values, NHWC order for a single image.
 *
 * Throws `ImageDecodeError` (`UNSUPPORTED_IMAGE`, `CORRUPT_IMAGE`, `IMAGE_TOO_LARGE`, `EMPTY_IMAGE`) for bad
 * images; file-system errors for paths (ENOENT...) pass through unchanged.
 *
 * @example
 * const x = await preprocessImage('photo.jpg', { ...DEFAULT_PREPROCESS, width: 28, height: 28 });
 * x.length; // 784
 */
export async function preprocessImage(
  input: Uint8Array | string,
  pre: PreprocessConfig,
  options: PreprocessOptions = {},
): Promise<Float32Array> {
  return toModelInput(await decodeToRaw(input, pre, options), pre);
}
