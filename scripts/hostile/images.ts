/**
 * Bytes for the hostile-input corpus: seeded random bytes and pixels, and images whose headers lie
 * (decompression bombs, rewritten dimensions), written by hand because no encoder writes them.
 */
import { deflateSync } from 'node:zlib';
import type { Rng } from '../../src/data/rng.js';

/** Random bytes from the seeded generator. */
export function randomBytes(rng: Rng, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.int(256);
  return out;
}

/** A noisy RGB picture, so that compressed formats carry real pixel data worth truncating. */
export function noise(rng: Rng, width: number, height: number): Buffer {
  return Buffer.from(randomBytes(rng, width * height * 3));
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/**
 * A valid-looking PNG whose IHDR claims width x height (8-bit grey) with a few rows of real
 * compressed data: decoding it for real would need width*height bytes.
 */
export function pngHeaderBomb(width: number, height: number): Uint8Array {
  return greyPng(width, height, deflateSync(Buffer.alloc((width + 1) * 4)));
}

/** A greyscale PNG of width x height whose IDAT inflates to `inflatedBytes` zeros (far more than the rows need). */
export function pngIdatBomb(width: number, height: number, inflatedBytes: number): Uint8Array {
  return greyPng(width, height, deflateSync(Buffer.alloc(inflatedBytes), { level: 9 }));
}

/** An 8-bit greyscale PNG whose header says width x height, with `idat` as its (compressed) pixel data. */
function greyPng(width: number, height: number, idat: Uint8Array): Uint8Array {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // bit depth 8, greyscale, deflate, adaptive filter, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk('IHDR', ihdr), pngChunk('IDAT', idat), pngChunk('IEND', new Uint8Array(0))]);
}

/** A real JPEG with its SOF dimensions rewritten to width x height. */
export function jpegWithDimensions(jpeg: Uint8Array, width: number, height: number): Uint8Array {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; ) {
    if (out[i] !== 0xff) break;
    const marker = out[i + 1];
    const len = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xc3) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker in the JPEG');
}

/** A GIF whose logical screen and frame both claim width x height. */
export function gifWithDimensions(gif: Uint8Array, width: number, height: number): Uint8Array {
  const out = Buffer.from(gif);
  out.writeUInt16LE(width, 6);
  out.writeUInt16LE(height, 8);
  // Walk to the first image descriptor: past the global colour table and any extension blocks.
  let at = 13 + (out[10] & 0x80 ? 3 * 2 ** ((out[10] & 0x07) + 1) : 0);
  while (at < out.length && out[at] === 0x21) {
    at += 2;
    while (at < out.length && out[at] !== 0) at += out[at] + 1;
    at += 1;
  }
  if (out[at] !== 0x2c) throw new Error('no image descriptor in the GIF');
  out.writeUInt16LE(width, at + 5);
  out.writeUInt16LE(height, at + 7);
  return out;
}

