/**
 * Untrusted image bytes → the model's input. The format is detected from the bytes (magic
 * numbers), never from Content-Type or a file name; only JPEG, PNG, WebP, GIF (first frame),
 * TIFF and AVIF pass, SVG (scriptable markup) and everything else are refused before sharp
 * sees them. Dimensions are checked from the header before decoding (pixel bomb → 413,
 * too small → 422), and decoding itself runs with sharp's `limitInputPixels` set low.
 */
import { imageSize } from 'image-size';
import sharp, { type Metadata } from 'sharp';
import type { Embedder, FaceImage, FaceSearch } from '../../embedding/index.js';
import { ApiError, toApiError } from '../errors/index.js';

export type AcceptedFormat = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif';
export type SniffedFormat = AcceptedFormat | 'svg' | 'heif' | null;

export const ACCEPTED_FORMATS: readonly AcceptedFormat[] = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'];

const ascii = (bytes: Uint8Array, start: number, end: number): string => String.fromCharCode(...bytes.subarray(start, end));

/** ISO-BMFF `ftyp` brands (major + compatible), for telling AVIF from HEIC. */
function ftypBrands(bytes: Uint8Array): string[] | null {
  if (bytes.length < 16 || ascii(bytes, 4, 8) !== 'ftyp') return null;
  const size = Math.min(((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0, bytes.length, 4096);
  const brands = [ascii(bytes, 8, 12)];
  for (let at = 16; at + 4 <= size; at += 4) brands.push(ascii(bytes, at, at + 4));
  return brands;
}

/**
 * The image format from the first bytes, or null when it is none we know (pure).
 *
 * @example
 * sniffImageFormat(pngBytes)                                   // 'png'
 * sniffImageFormat(new TextEncoder().encode('<svg xmlns=…'))  // 'svg' (refused by the API)
 */
export function sniffImageFormat(bytes: Uint8Array): SniffedFormat {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 8 && b[0] === 0x89 && ascii(b, 1, 4) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a && b[6] === 0x1a && b[7] === 0x0a) return 'png';
  if (b.length >= 6 && (ascii(b, 0, 6) === 'GIF87a' || ascii(b, 0, 6) === 'GIF89a')) return 'gif';
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 0x2a || b[2] === 0x2b) && b[3] === 0) || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 0x2a || b[3] === 0x2b)))) return 'tiff';
  const brands = ftypBrands(b);
  if (brands) {
    if (brands.includes('avif') || brands.includes('avis')) return 'avif';
    if (brands.some((x) => ['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1'].includes(x))) return 'heif';
    return null;
  }
  // Markup (SVG, XML, HTML), after an optional UTF-8 BOM and whitespace.
  let i = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
  while (i < b.length && (b[i] === 0x20 || b[i] === 0x09 || b[i] === 0x0a || b[i] === 0x0d)) i++;
  if (b[i] === 0x3c /* < */) return 'svg';
  return null;
}

export interface ImageLimits {
  /** Decoded width x height above this is refused (413). */
  maxInputPixels: number;
  /** Narrower or lower images are refused (422). */
  minImageSide: number;
}

export interface ImageInfo {
  format: AcceptedFormat;
  width: number;
  height: number;
}

/**
 * Width and height from the file header, read in JavaScript (no libvips pipeline: ~1 µs instead of
 * ~80 µs of sharp's `metadata()`), or null when the header is not one image-size understands.
 * Animated GIFs give the logical screen, i.e. one frame.
 */
function headerDimensions(bytes: Uint8Array): { width: number; height: number } | null {
  try {
    const { width, height } = imageSize(bytes);
    return width > 0 && height > 0 ? { width, height } : null;
  } catch {
    return null;
  }
}

/** The slower, surer reading: sharp's header parser (413 when it already sees a pixel bomb, else 415). */
async function sharpDimensions(bytes: Uint8Array, limits: ImageLimits): Promise<{ width: number; height: number }> {
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: limits.maxInputPixels, pages: 1 }).metadata();
  } catch (error) {
    throw toApiError(error instanceof Error && /exceeds pixel limit/i.test(error.message) ? new ApiError('IMAGE_TOO_LARGE', `the image has more than ${limits.maxInputPixels} pixels`) : new ApiError('UNDECODABLE_IMAGE', 'the image header cannot be read', { cause: error }));
  }
  // Animated GIF/WebP report the whole strip as height; one frame is pageHeight.
  return { width: meta.width ?? 0, height: meta.pageHeight ?? meta.height ?? 0 };
}

/**
 * Checks the format (from the bytes) and the dimensions (from the header) without decoding the
 * pixels. Throws `ApiError` 415 / 413 / 422.
 *
 * @example
 * await inspectImage(bytes, { maxInputPixels: 16_777_216, minImageSide: 8 }) // { format: 'png', width: 28, height: 28 }
 */
export async function inspectImage(bytes: Uint8Array, limits: ImageLimits): Promise<ImageInfo> {
  if (bytes.byteLength === 0) throw new ApiError('MISSING_IMAGE', 'the image is empty (0 bytes)');
  const format = sniffImageFormat(bytes);
  if (format === 'svg') throw new ApiError('UNSUPPORTED_IMAGE', 'SVG and other markup are not accepted: send JPEG, PNG, WebP, GIF, TIFF or AVIF');
  if (format === 'heif') throw new ApiError('UNSUPPORTED_IMAGE', 'HEIC/HEIF is not accepted: send JPEG, PNG, WebP, GIF, TIFF or AVIF');
  if (format === null) throw new ApiError('UNSUPPORTED_IMAGE', 'the bytes are not an accepted image format (JPEG, PNG, WebP, GIF, TIFF or AVIF)');
  // The JavaScript reading clears ordinary images; anything it cannot read or finds out of bounds is
  // judged by sharp, whose verdicts (413 for a real pixel bomb, 415 for a garbage header) are the documented ones.
  const quick = headerDimensions(bytes);
  const inBounds = quick && quick.width * quick.height <= limits.maxInputPixels && Math.min(quick.width, quick.height) >= limits.minImageSide;
  const { width, height } = inBounds ? quick : await sharpDimensions(bytes, limits);
  if (width <= 0 || height <= 0) throw new ApiError('UNDECODABLE_IMAGE', 'the image has no dimensions');
  if (width * height > limits.maxInputPixels) throw new ApiError('IMAGE_TOO_LARGE', `the image has ${width}x${height} pixels, more than the limit of ${limits.maxInputPixels}`);
  if (width < limits.minImageSide || height < limits.minImageSide) {
    throw new ApiError('IMAGE_TOO_SMALL', `the image is ${width}x${height} pixels; at least ${limits.minImageSide}x${limits.minImageSide} is needed`);
  }
  return { format, width, height };
}

/**
 * Inspects, then decodes and preprocesses an untrusted image by the embedder's recipe (EXIF
 * orientation honoured, first frame only). Every failure is an `ApiError` (413 / 415 / 422).
 *
 * @example
 * const { input, info } = await decodeImageForModel(bytes, embedder, limits);
 * input.length // 28 * 28 * 1
 */
export async function decodeImageForModel(bytes: Uint8Array, embedder: Pick<Embedder, 'prepare'>, limits: ImageLimits): Promise<{ input: Float32Array; info: ImageInfo }> {
  const info = await inspectImage(bytes, limits);
  try {
    return { input: await embedder.prepare(bytes, { limitInputPixels: limits.maxInputPixels }), info };
  } catch (error) {
    throw toApiError(error);
  }
}

/**
 * Inspects, then decodes an untrusted image at its own size for a face model (RGB, EXIF
 * orientation honoured, first frame). Every failure is an `ApiError` (413 / 415 / 422).
 *
 * @example
 * const image = await decodeImageForFaces(bytes, embedder.faces, limits); // { pixels, width, height }
 */
export async function decodeImageForFaces(bytes: Uint8Array, faces: Pick<FaceSearch, 'decode'>, limits: ImageLimits): Promise<FaceImage> {
  await inspectImage(bytes, limits);
  try {
    return await faces.decode(bytes, { limitInputPixels: limits.maxInputPixels });
  } catch (error) {
    throw toApiError(error);
  }
}

/** Longest side of gallery thumbnails, in pixels. */
export const THUMBNAIL_SIZE = 96;

/**
 * A small PNG of a gallery image (EXIF orientation honoured, first frame, fitted inside
 * `size` x `size`; small images are enlarged with nearest-neighbour so strokes stay crisp).
 *
 * @example
 * const png = await thumbnail('/data/g/alice/1.jpg'); // Buffer with a PNG of at most 96x96
 */
export async function thumbnail(input: string | Uint8Array, size = THUMBNAIL_SIZE, maxInputPixels = 4096 * 4096): Promise<Buffer> {
  const image = sharp(input, { limitInputPixels: maxInputPixels, pages: 1 });
  const meta = await image.metadata();
  const longest = Math.max(meta.width ?? 0, meta.pageHeight ?? meta.height ?? 0);
  const enlarging = longest > 0 && longest < size;
  // Whole-number enlargement keeps every source pixel the same size.
  const target = enlarging ? longest * Math.floor(size / longest) : size;
  return image
    .rotate()
    .resize(target, target, { fit: 'inside', kernel: enlarging ? 'nearest' : 'lanczos3' })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
