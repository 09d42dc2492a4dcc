import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREPROCESS, type PreprocessConfig } from '../model/config.js';
import { ImageDecodeError, preprocessImage, toModelInput } from './preprocess.js';

const pre = (overrides: Partial<PreprocessConfig>): PreprocessConfig => ({ ...DEFAULT_PREPROCESS, ...overrides });

const greyPng = (pixels: number[], width: number, height: number): Promise<Buffer> =>
  sharp(Buffer.from(pixels), { raw: { width, height, channels: 1 } }).png().toBuffer();

async function expectDecodeError(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageDecodeError);
  expect((error as ImageDecodeError).code).toBe(code);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinsearch-preprocess-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('toModelInput', () => {
  it('scales to [0, 1], inverts, then normalises', () => {
    const raw = new Uint8Array([0, 51, 255]);
    const base = pre({ width: 3, height: 1 });
    expect(Array.from(toModelInput(raw, base))).toEqual([0, expect.closeTo(0.2, 6), 1]);
    expect(Array.from(toModelInput(raw, { ...base, invert: true }))).toEqual([1, expect.closeTo(0.8, 6), 0]);
    const normalised = toModelInput(raw, { ...base, invert: true, mean: 0.5, std: 0.25 });
    expect(Array.from(normalised)).toEqual([expect.closeTo(2, 6), expect.closeTo(1.2, 6), expect.closeTo(-2, 6)]);
  });

  it('rejects a raw buffer of the wrong size', () => {
    expect(() => toModelInput(new Uint8Array(5), pre({ width: 2, height: 2 }))).toThrow(/expected 2x2x1 = 4/);
  });
});

describe('preprocessImage', () => {
  it('decodes a grey PNG to the expected floats (no resize needed)', async () => {
    const pixels = [0, 64, 128, 255, 10, 20, 30, 40];
    const png = await greyPng(pixels, 4, 2);
    const x = await preprocessImage(png, pre({ width: 4, height: 2 }));
    expect(x).toBeInstanceOf(Float32Array);
    expect(x.length).toBe(8);
    pixels.forEach((p, i) => expect(x[i]).toBeCloseTo(p / 255, 6));
  });

  it('reads from a file path too', async () => {
    const file = join(dir, 'grey.png');
    await writeFile(file, await greyPng([255, 0, 0, 255], 2, 2));
    expect(Array.from(await preprocessImage(file, pre({ width: 2, height: 2 })))).toEqual([1, 0, 0, 1]);
  });

  it('gives 1 channel for greyscale and 3 for RGB, whatever the source has', async () => {
    const rgb = await sharp(Buffer.from([255, 0, 0, 0, 0, 255]), { raw: { width: 2, height: 1, channels: 3 } })
      .png()
      .toBuffer();
    const asRgb = await preprocessImage(rgb, pre({ width: 2, height: 1, channels: 3 }));
    expect(Array.from(asRgb)).toEqual([1, 0, 0, 0, 0, 1]);
    const asGrey = await preprocessImage(rgb, pre({ width: 2, height: 1, channels: 1 }));
    expect(asGrey.length).toBe(2);
    // Luminance: red is brighter than blue, both between black and white.
    expect(asGrey[0]).toBeGreaterThan(asGrey[1]);
    expect(asGrey[0]).toBeLessThan(1);
    expect(asGrey[1]).toBeGreaterThan(0);

    const grey = await greyPng([0, 200], 2, 1);
    const greyAsRgb = await preprocessImage(grey, pre({ width: 2, height: 1, channels: 3 }));
    expect(Array.from(greyAsRgb).map((v) => Math.round(v * 255))).toEqual([0, 0, 0, 200, 200, 200]);
  });

  it('inverts black-on-white strokes to bright-on-black', async () => {
    const png = await greyPng([255, 0, 255, 255], 2, 2);
    const x = await preprocessImage(png, pre({ width: 2, height: 2, invert: true }));
    expect(Array.from(x)).toEqual([0, 1, 0, 0]);
  });

  it('resizes to width x height', async () => {
    const png = await sharp({ create: { width: 40, height: 30, channels: 3, background: '#808080' } }).png().toBuffer();
    const x = await preprocessImage(png, pre({ width: 7, height: 5 }));
    expect(x.length).toBe(35);
    for (const v of x) expect(v).toBeCloseTo(128 / 255, 2);
  });

  it('crops a region given in fractions before resizing', async () => {
    // 4 x 4 image: left half black, right half white; the crop keeps columns 2..3 of rows 1..2.
    const png = await greyPng([0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255, 255], 4, 4);
    const x = await preprocessImage(png, pre({ width: 2, height: 2, crop: { left: 0.5, top: 0.25, width: 0.5, height: 0.5 } }));
    expect(Array.from(x)).toEqual([1, 1, 1, 1]);
    const whole = await preprocessImage(png, pre({ width: 2, height: 2 }));
    // Without the crop the (blurred) black half is back.
    expect(whole[0]).toBeLessThan(0.2);
    expect(whole[1]).toBeGreaterThan(0.8);
    await expect(preprocessImage(png, pre({ crop: { left: 0.5, top: 0, width: 0.6, height: 1 } }))).rejects.toThrow(/crop must lie inside/);
  });

  it('letterboxes with white bars for fit "contain"', async () => {
    const black = await sharp({ create: { width: 8, height: 4, channels: 3, background: '#000' } }).png().toBuffer();
    const x = await preprocessImage(black, pre({ width: 8, height: 8, fit: 'contain' }));
    const row = (r: number): number[] => Array.from(x.subarray(r * 8, r * 8 + 8));
    expect(row(0)).toEqual(new Array(8).fill(1));
    expect(row(7)).toEqual(new Array(8).fill(1));
    expect(row(3)).toEqual(new Array(8).fill(0));
    expect(row(4)).toEqual(new Array(8).fill(0));
  });

  it('flattens transparency onto white', async () => {
    // Transparent black, opaque black.
    const png = await sharp(Buffer.from([0, 0, 0, 0, 0, 0, 0, 255]), { raw: { width: 2, height: 1, channels: 4 } })
      .png()
      .toBuffer();
    expect(Array.from(await preprocessImage(png, pre({ width: 2, height: 1 })))).toEqual([1, 0]);
    expect(Array.from(await preprocessImage(png, pre({ width: 2, height: 1, channels: 3 })))).toEqual([1, 1, 1, 0, 0, 0]);
  });

  it('honours EXIF orientation', async () => {
    // 16x8 landscape: left half black, right half white. Orientation 6 = display rotated 90 degrees
    // clockwise, so the upright image is 8x16 with black on top.
    const pixels: number[] = [];
    for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) pixels.push(x < 8 ? 0 : 255);
    const jpeg = await sharp(Buffer.from(pixels), { raw: { width: 16, height: 8, channels: 1 } })
      .jpeg({ quality: 100 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const x = await preprocessImage(jpeg, pre({ width: 8, height: 16 }));
    const mean = (rows: [number, number]): number => {
      const part = x.subarray(rows[0] * 8, rows[1] * 8);
      return part.reduce((s, v) => s + v, 0) / part.length;
    };
    expect(mean([0, 6])).toBeLessThan(0.05);
    expect(mean([10, 16])).toBeGreaterThan(0.95);
  });

  it('uses only the first frame of an animated GIF', async () => {
    const frame = (colour: string): Promise<Buffer> =>
      sharp({ create: { width: 4, height: 4, channels: 3, background: colour } }).png().toBuffer();
    const gif = await sharp([await frame('#000'), await frame('#fff')], { join: { animated: true } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const x = await preprocessImage(gif, pre({ width: 4, height: 4 }));
    expect(x.length).toBe(16);
    expect(Array.from(x)).toEqual(new Array(16).fill(0));
  });

  describe('errors', () => {
    it('EMPTY_IMAGE for zero bytes', async () => {
      await expectDecodeError(preprocessImage(new Uint8Array(0), DEFAULT_PREPROCESS), 'EMPTY_IMAGE');
      const file = join(dir, 'empty.png');
      await writeFile(file, new Uint8Array(0));
      await expectDecodeError(preprocessImage(file, DEFAULT_PREPROCESS), 'EMPTY_IMAGE');
    });

    it('UNSUPPORTED_IMAGE for bytes that are no image', async () => {
      await expectDecodeError(preprocessImage(Buffer.from('just some text, not an image'), DEFAULT_PREPROCESS), 'UNSUPPORTED_IMAGE');
    });

    it('CORRUPT_IMAGE for truncated PNG and JPEG files', async () => {
      const noise = Buffer.alloc(64 * 64 * 3);
      for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
      const png = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
      const jpeg = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } }).jpeg().toBuffer();
      await expectDecodeError(preprocessImage(png.subarray(0, png.length >> 1), DEFAULT_PREPROCESS), 'CORRUPT_IMAGE');
      await expectDecodeError(preprocessImage(jpeg.subarray(0, jpeg.length >> 1), DEFAULT_PREPROCESS), 'CORRUPT_IMAGE');
    });

    it('IMAGE_TOO_LARGE past limitInputPixels, with the path in the message', async () => {
      const file = join(dir, 'big.png');
      await writeFile(file, await sharp({ create: { width: 100, height: 100, channels: 3, background: '#fff' } }).png().toBuffer());
      const error = await preprocessImage(file, DEFAULT_PREPROCESS, { limitInputPixels: 9_999 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ImageDecodeError);
      expect((error as ImageDecodeError).code).toBe('IMAGE_TOO_LARGE');
      expect((error as Error).message).toContain(file);
      // The real size, read from the header, so the user knows what limit would let it in.
      expect((error as Error).message).toBe(`${file} is 100x100 pixels, more than the limit of 9999`);
      expect(error).toMatchObject({ width: 100, height: 100, limit: 9_999, reason: '100x100 pixels, more than the limit of 9999' });
      // At the limit it decodes.
      await expect(preprocessImage(file, DEFAULT_PREPROCESS, { limitInputPixels: 10_000 })).resolves.toHaveLength(784);
    });

    it('passes file-system errors through', async () => {
      await expect(preprocessImage(join(dir, 'missing.png'), DEFAULT_PREPROCESS)).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });
});

describe('toModelInput standardize', () => {
  it('gives each image zero mean and unit variance, and a flat image zeros', async () => {
    const { toModelInput } = await import('./preprocess.js');
    const pre = { width: 2, height: 2, channels: 1 as const, fit: 'fill' as const, invert: false, mean: 0, std: 1, standardize: true };
    const x = toModelInput(Uint8Array.from([0, 0, 255, 255]), pre);
    expect(Array.from(x)).toEqual([-1, -1, 1, 1]);
    expect(Array.from(toModelInput(Uint8Array.from([7, 7, 7, 7]), pre))).toEqual([0, 0, 0, 0]);
  });
});
