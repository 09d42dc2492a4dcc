import { describe, expect, it } from 'vitest';
import { bytesToVectors, vectorsToBytes } from './vectors.js';

describe('vectors.f32 bytes', () => {
  it('round-trips through the vectors.f32 bytes, aligned or not', () => {
    const data = Float32Array.from([1.5, -2, 3.25, 4]);
    const bytes = vectorsToBytes(data);
    expect([...bytesToVectors(bytes)]).toEqual([1.5, -2, 3.25, 4]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect([...bytesToVectors(shifted.subarray(1))]).toEqual([1.5, -2, 3.25, 4]);
    expect(() => bytesToVectors(new Uint8Array(5))).toThrow(/multiple of 4/);
  });
});
