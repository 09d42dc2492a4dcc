/**
 * vectors.f32: the raw float32 embeddings of a snapshot, row i belonging to manifest entry i,
 * little-endian, no header (count and dimension are in the manifest). Re-index reuses rows
 * instead of embedding images again, and the exact scan (tests, benchmarks) reads them.
 */
import { endianness } from 'node:os';

if (endianness() !== 'LE') throw new Error('twinsearch snapshots store little-endian float32; this machine is big-endian');

/** The bytes of vectors.f32 for row-major float32 data. */
export function vectorsToBytes(data: Float32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Row-major float32 data from the bytes of vectors.f32 (copied when the bytes are not 4-byte aligned).
 *
 * @example
 * const data = bytesToVectors(await readFile('index/v000001-…/vectors.f32'));
 */
export function bytesToVectors(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`vectors.f32 has ${bytes.byteLength} bytes, not a multiple of 4`);
  if (bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  return new Float32Array(bytes.slice().buffer);
}
