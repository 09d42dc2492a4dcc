import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { preprocessImage } from '../../data/preprocess.js';
import type { PreprocessConfig } from '../../model/config.js';
import { failure } from '../../../test/fixtures/api.js';
import { decodeImageForModel, inspectImage, sniffImageFormat, thumbnail } from './index.js';

const limits = { maxInputPixels: 100_000, minImageSide: 8 };
/** The embedder's decode step for a recipe with this preprocessing. */
const preparing = (preprocess: PreprocessConfig) => ({ prepare: (bytes: string | Uint8Array, options?: { limitInputPixels?: number }) => preprocessImage(bytes, preprocess, options) });
const pattern = () => sharp({ create: { width: 40, height: 30, channels: 3, background: '#336699' } });

describe('sniffImageFormat', () => {
  it('detects every accepted format from its bytes', async () => {
    for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const) {
      expect(sniffImageFormat(await pattern().toFormat(format).toBuffer())).toBe(format);
    }
  });

  it('flags markup (SVG, XML, HTML, with BOM or whitespace) and HEIC; unknown bytes are null', () => {
    const text = (s: string) => new TextEncoder().encode(s);
    expect(sniffImageFormat(text('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe('svg');
    expect(sniffImageFormat(text('\ufeff  \n<?xml version="1.0"?><svg/>'))).toBe('svg');
    expect(sniffImageFormat(text('<!doctype html>'))).toBe('svg');
    const heic = new Uint8Array([0, 0, 0, 24, ...text('ftypheic'), 0, 0, 0, 0, ...text('mif1heic')]);
    expect(sniffImageFormat(heic)).toBe('heif');
    expect(sniffImageFormat(text('GIF8'))).toBeNull();
    expect(sniffImageFormat(new Uint8Array([0x42, 0x4d, 0, 0, 0, 0]))).toBeNull(); // BMP: not accepted
    expect(sniffImageFormat(new Uint8Array(0))).toBeNull();
  });
});

describe('inspectImage / decodeImageForModel', () => {
  it('refuses markup, unknown formats and empty input', async () => {
    expect(await failure(inspectImage(new TextEncoder().encode('<svg/>'), limits))).toBe('415 UNSUPPORTED_IMAGE');
    expect(await failure(inspectImage(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), limits))).toBe('415 UNSUPPORTED_IMAGE');
    expect(await failure(inspectImage(new Uint8Array(0), limits))).toBe('400 MISSING_IMAGE');
  });

  it('refuses pixel bombs (413) from the header and tiny images (422)', async () => {
    const big = await sharp({ create: { width: 400, height: 400, channels: 3, background: '#000' } }).png().toBuffer();
    expect(await failure(inspectImage(big, limits))).toBe('413 IMAGE_TOO_LARGE');
    const tiny = await sharp({ create: { width: 20, height: 4, channels: 3, background: '#000' } }).png().toBuffer();
    expect(await failure(inspectImage(tiny, limits))).toBe('422 IMAGE_TOO_SMALL');
    expect(await inspectImage(await pattern().png().toBuffer(), limits)).toEqual({ format: 'png', width: 40, height: 30 });
  });

  it('refuses truncated images as undecodable (415)', async () => {
    const jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
    expect(await failure(decodeImageForModel(jpeg.subarray(0, jpeg.length >> 1), preparing({ width: 28, height: 28, channels: 1, fit: 'fill', invert: false, mean: 0, std: 1 }), limits))).toBe('415 UNDECODABLE_IMAGE');
  });

  it('honours EXIF orientation', async () => {
    // 20x10, left half black, right half white, tagged "rotate 90° clockwise" (orientation 6):
    // upright it is 10x20 with the black half on top.
    const pixels = Buffer.alloc(20 * 10);
    for (let y = 0; y < 10; y++) for (let x = 10; x < 20; x++) pixels[y * 20 + x] = 255;
    const jpeg = await sharp(pixels, { raw: { width: 20, height: 10, channels: 1 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const { input } = await decodeImageForModel(jpeg, preparing({ width: 10, height: 20, channels: 1, fit: 'fill', invert: false, mean: 0, std: 1 }), limits);
    const mean = (from: number, to: number) => input.subarray(from * 10, to * 10).reduce((a, b) => a + b, 0) / ((to - from) * 10);
    expect(mean(0, 8)).toBeLessThan(0.2);
    expect(mean(12, 20)).toBeGreaterThan(0.8);
  });
});

describe('thumbnail', () => {
  it('fits large images inside 96 px and enlarges small ones by a whole factor', async () => {
    const large = await sharp(await thumbnail(await sharp({ create: { width: 300, height: 150, channels: 3, background: '#fff' } }).png().toBuffer())).metadata();
    expect(large).toMatchObject({ format: 'png', width: 96, height: 48 });
    const small = await sharp(await thumbnail(await pattern().resize(28, 28).png().toBuffer())).metadata();
    expect(small).toMatchObject({ width: 84, height: 84 });
  });
});
