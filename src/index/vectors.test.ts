import { describe, expect, it } from 'vitest';
import { bytesToVectors, VectorTable, vectorsToBytes } from './vectors.js';

describe('VectorTable', () => {
  it('grows as rows are pushed and keeps them intact', () => {
    const table = new VectorTable(3, 1);
    for (let i = 0; i < 10; i++) expect(table.push([i, i + 0.5, -i])).toBe(i);
    expect(table.count).toBe(10);
    expect([...table.row(7)]).toEqual([7, 7.5, -7]);
    expect(table.data.length).toBe(30);
    expect(() => table.push([1, 2])).toThrow(/dimensions/);
    expect(() => table.row(10)).toThrow(RangeError);
  });

  it('round-trips through the vectors.f32 bytes, aligned or not', () => {
    const data = Float32Array.from([1.5, -2, 3.25, 4]);
    const bytes = vectorsToBytes(data);
    expect([...bytesToVectors(bytes)]).toEqual([1.5, -2, 3.25, 4]);
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect([...bytesToVectors(shifted.subarray(1))]).toEqual([1.5, -2, 3.25, 4]);
    expect(() => bytesToVectors(new Uint8Array(5))).toThrow(/multiple of 4/);
    expect(VectorTable.from(data, 2).count).toBe(2);
    expect(() => VectorTable.from(data, 3)).toThrow(/whole number/);
  });
});
