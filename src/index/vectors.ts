/**
 * vectors.f32: the raw float32 embeddings of a snapshot, row i belonging to manifest entry i,
 * little-endian, no header (count and dimension are in the manifest). Re-index reuses rows
 * instead of embedding images again, and the exact scan reads them.
 *
 * `VectorTable` is the in-memory form: a growable row-major Float32Array.
 */
import { endianness } from 'node:os';

if (endianness() !== 'LE') throw new Error('twinsearch snapshots store little-endian float32; this machine is big-endian');

export class VectorTable {
  private buffer: Float32Array;
  private rowCount = 0;

  /**
   * @example
   * const table = new VectorTable(64, 1000); table.push(vector); table.row(0);
   */
  constructor(
    readonly dim: number,
    capacity = 16,
  ) {
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`dimension must be a positive integer, got ${dim}`);
    this.buffer = new Float32Array(Math.max(1, capacity) * dim);
  }

  /** Wraps existing row-major data (not copied). */
  static from(data: Float32Array, dim: number): VectorTable {
    if (data.length % dim !== 0) throw new RangeError(`${data.length} floats are not a whole number of ${dim}-d rows`);
    const table = new VectorTable(dim, 1);
    table.buffer = data;
    table.rowCount = data.length / dim;
    return table;
  }

  get count(): number {
    return this.rowCount;
  }

  /** The filled rows as one view (no copy; valid until the next push). */
  get data(): Float32Array {
    return this.buffer.subarray(0, this.rowCount * this.dim);
  }

  /** A view of one row. */
  row(index: number): Float32Array {
    if (index < 0 || index >= this.rowCount) throw new RangeError(`row ${index} out of 0..${this.rowCount - 1}`);
    return this.buffer.subarray(index * this.dim, (index + 1) * this.dim);
  }

  /** Appends one row and returns its index. */
  push(vector: ArrayLike<number>): number {
    if (vector.length !== this.dim) throw new RangeError(`vector has ${vector.length} dimensions, the table ${this.dim}`);
    if ((this.rowCount + 1) * this.dim > this.buffer.length) {
      const grown = new Float32Array(Math.max(this.buffer.length * 2, (this.rowCount + 1) * this.dim));
      grown.set(this.buffer.subarray(0, this.rowCount * this.dim));
      this.buffer = grown;
    }
    this.buffer.set(vector, this.rowCount * this.dim);
    return this.rowCount++;
  }
}

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
