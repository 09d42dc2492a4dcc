import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PREPROCESS, type PreprocessConfig } from '../model/config.js';
import { decodePngAtInputSize, srgbToGrey } from './png-at-size.js';
import { decodeToRaw, decodeWithSharp } from './preprocess.js';
import { createRng } from './rng.js';

const W = 28;
const H = 20;
const grey: PreprocessConfig = { ...DEFAULT_PREPROCESS, width: W, height: H, channels: 1 };
const rgb: PreprocessConfig = { ...grey, channels: 3 };

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A PNG written by hand, so every colour type, bit depth and ancillary chunk can be produced
 * (sharp's encoder cannot write 2-bit grey or a grey tRNS key). Rows are unfiltered.
 */
function png(o: { colorType: 0 | 2 | 3 | 4 | 6; depth: 1 | 2 | 4 | 8; samples: number[]; extra?: Buffer[]; width?: number; height?: number }): Buffer {
  const width = o.width ?? W;
  const height = o.height ?? H;
  const perPixel = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[o.colorType];
  const rowBits = width * perPixel * o.depth;
  const stride = Math.ceil(rowBits / 8);
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < width * perPixel; i++) {
      const v = o.samples[y * width * perPixel + i]!;
      const bit = i * o.depth;
      raw[y * (stride + 1) + 1 + (bit >> 3)]! |= v << (8 - o.depth - (bit & 7));
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = o.depth;
  ihdr[9] = o.colorType;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    ...(o.extra ?? []),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

const random = (count: number, max: number, seed: number): number[] => {
  const rng = createRng(seed);
  return Array.from({ length: count }, () => Math.floor(rng.next() * (max + 1)));
};

const n = W * H;
const cases: [string, Buffer][] = [
  ['grey 8-bit', png({ colorType: 0, depth: 8, samples: random(n, 255, 1) })],
  ['grey 1-bit', png({ colorType: 0, depth: 1, samples: random(n, 1, 2) })],
  ['grey 2-bit', png({ colorType: 0, depth: 2, samples: random(n, 3, 3) })],
  ['grey 4-bit', png({ colorType: 0, depth: 4, samples: random(n, 15, 4) })],
  ['grey 8-bit + tRNS key', png({ colorType: 0, depth: 8, samples: random(n, 7, 5).map((v) => v * 30), extra: [chunk('tRNS', new Uint8Array([0, 60]))] })],
  ['grey + alpha', png({ colorType: 4, depth: 8, samples: random(2 * n, 255, 6) })],
  ['RGB', png({ colorType: 2, depth: 8, samples: random(3 * n, 255, 7) })],
  ['RGB + tRNS key', png({ colorType: 2, depth: 8, samples: random(3 * n, 1, 8).map((v) => v * 255), extra: [chunk('tRNS', new Uint8Array([0, 255, 0, 0, 0, 255]))] })],
  ['RGBA', png({ colorType: 6, depth: 8, samples: random(4 * n, 255, 9) })],
  ['palette 4-bit + tRNS', png({ colorType: 3, depth: 4, samples: random(n, 15, 10), extra: [chunk('PLTE', new Uint8Array(random(48, 255, 11))), chunk('tRNS', new Uint8Array([0, 128, 255, 7]))] })],
  ['palette 8-bit, grey entries', png({ colorType: 3, depth: 8, samples: random(n, 255, 12), extra: [chunk('PLTE', new Uint8Array(Array.from({ length: 256 }, (_, i) => [i, i, i]).flat()))] })],
  ['palette 1-bit', png({ colorType: 3, depth: 1, samples: random(n, 1, 13), extra: [chunk('PLTE', new Uint8Array([10, 200, 30, 250, 240, 5]))] })],
  ['with an sRGB chunk', png({ colorType: 2, depth: 8, samples: random(3 * n, 255, 14), extra: [chunk('sRGB', new Uint8Array([0]))] })],
];

describe('decodePngAtInputSize', () => {
  it.each(cases)('%s: the same pixels as the sharp pipeline, grey and RGB models', async (_, bytes) => {
    for (const pre of [grey, rgb, { ...grey, fit: 'contain' as const }, { ...grey, fit: 'cover' as const }]) {
      const fast = decodePngAtInputSize(bytes, pre);
      expect(fast, 'the fast path takes this file').not.toBeNull();
      expect(Buffer.from(fast!).equals(Buffer.from(await decodeWithSharp(bytes, pre)))).toBe(true);
    }
  });

  it('reads PNGs written by sharp (interlaced, palette) identically', async () => {
    const pixels = Buffer.from(random(n * 4, 255, 20));
    for (const options of [{ progressive: true }, { palette: true, colours: 64 }, { palette: true, colours: 4, bitdepth: 2 as const }, { compressionLevel: 9 }]) {
      const bytes = await sharp(pixels, { raw: { width: W, height: H, channels: 4 } }).png(options).toBuffer();
      const fast = decodePngAtInputSize(bytes, grey);
      expect(fast, JSON.stringify(options)).not.toBeNull();
      expect(Buffer.from(fast!).equals(Buffer.from(await decodeWithSharp(bytes, grey))), JSON.stringify(options)).toBe(true);
    }
  });

  it('leaves to sharp what it cannot promise to reproduce', async () => {
    const plain = cases[0]![1];
    expect(decodePngAtInputSize(plain, { ...grey, width: W + 1 }), 'other size').toBeNull();
    const withChunk = (type: string): Buffer => png({ colorType: 0, depth: 8, samples: random(n, 255, 30), extra: [chunk(type, new Uint8Array(4))] });
    for (const type of ['gAMA', 'iCCP', 'cHRM', 'eXIf', 'acTL', 'sBIT']) expect(decodePngAtInputSize(withChunk(type), grey), type).toBeNull();
    const jpeg = await sharp(Buffer.alloc(n, 128), { raw: { width: W, height: H, channels: 1 } }).jpeg().toBuffer();
    expect(decodePngAtInputSize(jpeg, grey), 'JPEG').toBeNull();
    const sixteen = await sharp(Buffer.alloc(n * 2, 7), { raw: { width: W, height: H, channels: 1 } }).png().toBuffer();
    expect(decodePngAtInputSize(Buffer.concat([sixteen.subarray(0, 24), Buffer.from([16]), sixteen.subarray(25)]), grey), '16-bit').toBeNull();
    // Damage: a flipped byte in IDAT (CRC mismatch), a cut file, a palette index past the palette.
    const flipped = Buffer.from(plain);
    flipped[plain.length - 20]! ^= 0xff;
    expect(decodePngAtInputSize(flipped, grey)).toBeNull();
    expect(decodePngAtInputSize(plain.subarray(0, plain.length - 30), grey)).toBeNull();
    const badIndex = png({ colorType: 3, depth: 8, samples: Array(n).fill(9), extra: [chunk('PLTE', new Uint8Array([1, 2, 3]))] });
    expect(decodePngAtInputSize(badIndex, grey)).toBeNull();
  });

  it('declines a zip bomb (pixel data inflating far past the header\'s size) without inflating it', async () => {
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(W, 0);
    ihdr.writeUInt32BE(H, 4);
    ihdr[8] = 8;
    const bomb = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(100_000_000), { level: 9 })), chunk('IEND', new Uint8Array(0))]);
    const before = process.memoryUsage().rss;
    expect(decodePngAtInputSize(bomb, grey)).toBeNull();
    // fast-png alone would have allocated the whole 100 MB (and more for its buffers).
    expect(process.memoryUsage().rss - before).toBeLessThan(50 * 1024 * 1024);
    // sharp decodes only the rows the header promises: an ordinary all-black image.
    expect(Array.from(new Set(await decodeToRaw(bomb, grey)))).toEqual([0]);
  });

  it('decodeToRaw still reports damaged PNGs with sharp\'s error codes', async () => {
    const plain = cases[0]![1];
    await expect(decodeToRaw(plain.subarray(0, plain.length - 30), grey)).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
  });
});

describe('srgbToGrey', () => {
  it('matches libvips over all 16.7 M sRGB colours but a handful (one grey level at most)', async () => {
    const side = 4096;
    const pixels = Buffer.alloc(side * side * 3);
    for (let i = 0; i < side * side; i++) {
      pixels[i * 3] = i >> 16;
      pixels[i * 3 + 1] = (i >> 8) & 255;
      pixels[i * 3 + 2] = i & 255;
    }
    const bytes = await sharp(pixels, { raw: { width: side, height: side, channels: 3 }, limitInputPixels: false }).png({ compressionLevel: 1 }).toBuffer();
    const reference = await sharp(bytes, { limitInputPixels: false }).greyscale().raw().toBuffer();
    let differ = 0;
    let worst = 0;
    for (let i = 0; i < side * side; i++) {
      const d = Math.abs(srgbToGrey(i >> 16, (i >> 8) & 255, i & 255) - reference[i]!);
      if (d) differ++;
      worst = Math.max(worst, d);
    }
    expect(worst).toBeLessThanOrEqual(1);
    // Measured: 107 of 16,777,216 (float rounding order inside libvips); the docs quote "6 per million".
    expect(differ).toBeLessThan(200);
  }, 60_000);
});
