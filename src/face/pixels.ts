/**
 * Raw pixel plumbing for the face stage, pure functions on interleaved 8-bit images: channel
 * normalisation to RGB, borders, crops and integer-factor area downscaling. Decoding image bytes is
 * the caller's job (sharp `.raw()`).
 */
import type { Box } from './faceapi.js';

/** An interleaved 8-bit RGB image, row-major, 3 bytes per pixel. */
export interface RgbImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/** What `detect` accepts: 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA) bytes per pixel. */
export type PixelData = Uint8Array | Uint8ClampedArray;

/**
 * Reads 1-, 2-, 3- or 4-channel pixels as RGB: the channel count is the data length over
 * width x height; alpha is dropped (not composited). Throws a RangeError on any other length.
 *
 * @example
 * toRgb(greyPixels, 92, 112).data.length; // 92 * 112 * 3
 */
export function toRgb(pixels: PixelData, width: number, height: number): RgbImage {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`image size must be positive integers, got ${width}x${height}`);
  }
  const count = width * height;
  const channels = pixels.length / count;
  if (![1, 2, 3, 4].includes(channels)) {
    throw new RangeError(`expected 1, 2, 3 or 4 bytes per pixel for ${width}x${height}, got ${pixels.length} bytes`);
  }
  if (channels === 3) return { data: Uint8Array.from(pixels), width, height };
  const data = new Uint8Array(count * 3);
  for (let i = 0; i < count; i++) {
    const s = i * channels;
    const grey = channels <= 2;
    data[i * 3] = pixels[s];
    data[i * 3 + 1] = grey ? pixels[s] : pixels[s + 1];
    data[i * 3 + 2] = grey ? pixels[s] : pixels[s + 2];
  }
  return { data, width, height };
}

/**
 * Surrounds an image with a border of `border` pixels of one grey `value` on every side.
 *
 * @example
 * addBorder(face, 92, 128).width; // 92 + 2 * 92
 */
export function addBorder(image: RgbImage, border: number, value: number): RgbImage {
  const width = image.width + 2 * border;
  const height = image.height + 2 * border;
  const data = new Uint8Array(width * height * 3).fill(value);
  const row = image.width * 3;
  for (let y = 0; y < image.height; y++) {
    data.set(image.data.subarray(y * row, (y + 1) * row), ((y + border) * width + border) * 3);
  }
  return { data, width, height };
}

/**
 * The integer pixel rectangle of `box` clipped to the image (at least 1x1), and its pixels.
 *
 * @example
 * const { image, x, y } = cropRgb(photo, { x: -5, y: 10, width: 40, height: 40 }); // x = 0, width 35
 */
export function cropRgb(image: RgbImage, box: Box): { image: RgbImage; x: number; y: number } {
  const x0 = Math.min(image.width - 1, Math.max(0, Math.floor(box.x)));
  const y0 = Math.min(image.height - 1, Math.max(0, Math.floor(box.y)));
  const x1 = Math.max(x0 + 1, Math.min(image.width, Math.ceil(box.x + box.width)));
  const y1 = Math.max(y0 + 1, Math.min(image.height, Math.ceil(box.y + box.height)));
  const width = x1 - x0;
  const height = y1 - y0;
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * image.width + x0) * 3;
    data.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { image: { data, width, height }, x: x0, y: y0 };
}

/**
 * Shrinks an image by an integer factor, each output pixel the mean of a factor x factor block
 * (edge blocks average what exists). Factor 1 returns the image itself.
 *
 * @example
 * downscale(photo4000x3000, 4).width; // 1000
 */
export function downscale(image: RgbImage, factor: number): RgbImage {
  if (factor <= 1) return image;
  const width = Math.ceil(image.width / factor);
  const height = Math.ceil(image.height / factor);
  const sums = new Float64Array(width * height * 3);
  const counts = new Uint32Array(width * height);
  for (let y = 0; y < image.height; y++) {
    const oy = Math.floor(y / factor);
    for (let x = 0; x < image.width; x++) {
      const o = oy * width + Math.floor(x / factor);
      const s = (y * image.width + x) * 3;
      sums[o * 3] += image.data[s];
      sums[o * 3 + 1] += image.data[s + 1];
      sums[o * 3 + 2] += image.data[s + 2];
      counts[o]++;
    }
  }
  const data = new Uint8Array(width * height * 3);
  for (let o = 0; o < width * height; o++) {
    for (let c = 0; c < 3; c++) data[o * 3 + c] = Math.round(sums[o * 3 + c] / counts[o]);
  }
  return { data, width, height };
}
