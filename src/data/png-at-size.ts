/**
 * A sharp-free path for the commonest small query: a PNG whose pixel grid already equals the
 * model's input (a client that resizes before sending, a 28x28 character crop). sharp's fixed cost
 * per image (~0.3-0.6 ms of CPU to set up a libvips pipeline, even for 784 pixels) then dominates a
 * search request; decoding such a PNG in JavaScript costs ~40 µs.
 *
 * The result must equal what `decodeToRaw`'s sharp pipeline gives (decode → flatten onto white →
 * greyscale or sRGB, no resize at equal size), so it reproduces libvips's arithmetic:
 * - flattening: `trunc((a * v + (255 - a) * 255) / 255)` per channel (libvips's integer path);
 * - sRGB → grey (after flattening): libvips's 8-bit tables — sRGB → linear through a float table,
 *   Y = 0.2126 R + 0.7152 G + 0.0722 B, back to sRGB by interpolating an integer table. Exhaustively
 *   compared over all 16.7 M colours: about 100 colours (6 per million) land one grey level off,
 *   the rest are identical (libvips 8.18; test in png-at-size.test.ts);
 * - grey → sRGB: the grey value replicated (exact); 1/2/4-bit grey scaled to 0..255 (exact).
 *
 * Anything this path is not sure to reproduce returns `null` and goes to sharp: other formats or
 * sizes, 16-bit samples, files that ask for colour management or bit-depth handling (iCCP, gAMA,
 * cHRM, sBIT), EXIF orientation (eXIf), animation (acTL), pixel data that inflates past the image's
 * size (a zip bomb), and every damaged file (so sharp reports the error).
 */
import { inflateSync } from 'node:zlib';
import { decode as decodePng } from 'fast-png';
import type { PreprocessConfig } from '../model/config.js';

/** Chunks that ask for colour management, rotation or animation: sharp handles those files. */
const DEFER_TO_SHARP = new Set(['iCCP', 'gAMA', 'cHRM', 'eXIf', 'acTL', 'sBIT']);

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const;

const f32 = Math.fround;

/** Round half to even, as C's rint(). */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** libvips's 8-bit sRGB tables (colour/LabQ2sRGB.c `calcul_tables`): to linear (float) and back (int). */
const TO_LINEAR = new Float32Array(256);
const TO_SRGB = new Int32Array(257);
for (let i = 0; i < 256; i++) {
  const f = f32(i / 255);
  TO_SRGB[i] = rint(255 * f32(f <= 0.0031308 ? 12.92 * f : 1.055 * Math.pow(f, 1 / 2.4) - 0.055));
  TO_LINEAR[i] = f32(f <= 0.04045 ? f / 12.92 : Math.pow((f + 0.055) / 1.055, 2.4));
}
TO_SRGB[256] = TO_SRGB[255]!;

/** One sRGB pixel to grey as libvips's `scRGB2BW` does it for 8-bit images. */
export function srgbToGrey(r: number, g: number, b: number): number {
  const y = f32(0.2126 * TO_LINEAR[r]! + 0.7152 * TO_LINEAR[g]! + 0.0722 * TO_LINEAR[b]!);
  const yf = Math.min(255, Math.max(0, f32(y * 255)));
  const yi = Math.trunc(yf);
  return rint(f32(TO_SRGB[yi]! + f32((TO_SRGB[yi + 1]! - TO_SRGB[yi]!) * f32(yf - yi))));
}

/** A sample over white with alpha `a` (0..255), as libvips flattens 8-bit images. */
const overWhite = (v: number, a: number): number => Math.trunc((a * v + (255 - a) * 255) / 255);

const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
const chunkType = (b: Uint8Array, at: number): string => String.fromCharCode(b[at]!, b[at + 1]!, b[at + 2]!, b[at + 3]!);

/**
 * The IDAT data when the chunk list is complete (ends in IEND) and names nothing in
 * `DEFER_TO_SHARP`, else null.
 */
function plainImageData(bytes: Uint8Array): Uint8Array[] | null {
  const idat: Uint8Array[] = [];
  let at = 8;
  while (at + 12 <= bytes.length) {
    const length = u32(bytes, at);
    const type = chunkType(bytes, at + 4);
    if (DEFER_TO_SHARP.has(type)) return null;
    if (type === 'IEND') return idat;
    if (type === 'IDAT') idat.push(bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + length)));
    at += 12 + length;
  }
  return null;
}

/**
 * True when the compressed pixels inflate to no more than an image of this size can hold. fast-png
 * inflates the whole stream, so a 300 KB file claiming 28x28 pixels could otherwise expand to
 * 300 MB (a zip bomb); node's zlib stops at `maxOutputLength`. Interlaced files carry a few more
 * filter bytes, hence the slack.
 */
function inflatesWithinBounds(idat: Uint8Array[], width: number, height: number, bitsPerPixel: number): boolean {
  const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
  const limit = 2 * height * (1 + rowBytes) + 1024;
  try {
    inflateSync(Buffer.concat(idat), { maxOutputLength: limit });
    return true;
  } catch {
    return false; // too large or not valid zlib: sharp decides
  }
}

/** Unpacks 1/2/4-bit samples (rows padded to whole bytes, as PNG stores them) to one byte each. */
function unpack(data: Uint8Array, width: number, height: number, depth: number): Uint8Array {
  if (depth === 8) return data;
  const out = new Uint8Array(width * height);
  const stride = Math.ceil((width * depth) / 8);
  const mask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const bit = x * depth;
      out[y * width + x] = (data[y * stride + (bit >> 3)]! >> (8 - depth - (bit & 7))) & mask;
    }
  }
  return out;
}

/**
 * The raw 8-bit pixels `decodeToRaw` would return for `bytes`, or `null` when `bytes` is not a plain
 * PNG of exactly `pre.width` x `pre.height` (then sharp must do it). Pure; never throws.
 *
 * @example
 * const raw = decodePngAtInputSize(bytes, card.preprocess) ?? (await sharpPipeline(bytes));
 */
export function decodePngAtInputSize(bytes: Uint8Array, pre: PreprocessConfig): Uint8Array | null {
  // A crop changes which pixels land where: sharp's job.
  if (pre.crop) return null;
  if (bytes.length < 33 || PNG_SIGNATURE.some((v, i) => bytes[i] !== v) || chunkType(bytes, 12) !== 'IHDR') return null;
  const width = u32(bytes, 16);
  const height = u32(bytes, 20);
  const depth = bytes[24]!;
  if (width !== pre.width || height !== pre.height || depth === 16) return null;
  const idat = plainImageData(bytes);
  const samplesPerPixel = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[bytes[25]!];
  if (!idat || samplesPerPixel === undefined || !inflatesWithinBounds(idat, width, height, samplesPerPixel * depth)) return null;

  let png: ReturnType<typeof decodePng>;
  try {
    png = decodePng(bytes, { checkCrc: true });
  } catch {
    return null; // damaged: sharp decides and words the error
  }
  if (png.width !== width || png.height !== height || png.depth !== depth || !(png.data instanceof Uint8Array)) return null;

  const n = width * height;
  const samples = unpack(png.data, width, height, png.depth);
  // Expand to grey, grey+alpha, RGB or RGBA 8-bit samples.
  let channels: number;
  let px: Uint8Array;
  if (png.palette) {
    const palette = png.palette;
    // fast-png folds tRNS into the palette: entries are [r, g, b] or [r, g, b, a].
    channels = palette.some((entry) => entry.length === 4) ? 4 : 3;
    px = new Uint8Array(n * channels);
    for (let i = 0; i < n; i++) {
      const colour = palette[samples[i]!];
      if (!colour) return null; // index past the palette: sharp reports it
      px[i * channels] = colour[0]!;
      px[i * channels + 1] = colour[1]!;
      px[i * channels + 2] = colour[2]!;
      if (channels === 4) px[i * channels + 3] = colour[3] ?? 255;
    }
  } else {
    const scale = 255 / ((1 << png.depth) - 1);
    const key = png.transparency; // tRNS: one grey or RGB value (in the file's bit depth) that is transparent
    if (key && (png.channels === 1 || png.channels === 3)) {
      const c = png.channels;
      channels = c + 1;
      px = new Uint8Array(n * channels);
      for (let i = 0; i < n; i++) {
        let transparent = true;
        for (let k = 0; k < c; k++) {
          const s = samples[i * c + k]!;
          if (s !== key[k]) transparent = false;
          px[i * channels + k] = Math.round(s * scale);
        }
        px[i * channels + c] = transparent ? 0 : 255;
      }
    } else {
      channels = png.channels;
      px = scale === 1 ? samples : samples.map((s) => Math.round(s * scale));
    }
  }

  const hasAlpha = channels === 2 || channels === 4;
  const colour = channels >= 3;
  const out = new Uint8Array(n * pre.channels);
  for (let i = 0; i < n; i++) {
    const a = hasAlpha ? px[i * channels + channels - 1]! : 255;
    const at = i * channels;
    const r = a === 255 ? px[at]! : overWhite(px[at]!, a);
    if (!colour) {
      if (pre.channels === 1) out[i] = r;
      else out.fill(r, i * 3, i * 3 + 3);
      continue;
    }
    const g = a === 255 ? px[at + 1]! : overWhite(px[at + 1]!, a);
    const b = a === 255 ? px[at + 2]! : overWhite(px[at + 2]!, a);
    if (pre.channels === 1) {
      out[i] = srgbToGrey(r, g, b);
    } else {
      out[i * 3] = r;
      out[i * 3 + 1] = g;
      out[i * 3 + 2] = b;
    }
  }
  return out;
}
