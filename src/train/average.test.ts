import { describe, expect, it } from 'vitest';
import { addSnapshot, inAveragingWindow } from './average.js';

describe('addSnapshot', () => {
  it('keeps the elementwise mean of every snapshot added', () => {
    let avg = addSnapshot(null, [new Float32Array([1, 2]), new Float32Array([10])]);
    avg = addSnapshot(avg, [new Float32Array([3, 6]), new Float32Array([20])]);
    avg = addSnapshot(avg, [new Float32Array([5, 1]), new Float32Array([-30])]);
    expect(avg.count).toBe(3);
    expect(Array.from(avg.weights[0]!)).toEqual([3, 3]);
    expect(Array.from(avg.weights[1]!)).toEqual([0]);
  });

  it('copies the first snapshot, so later changes to the live weights do not leak in', () => {
    const live = [new Float32Array([1, 1])];
    const avg = addSnapshot(null, live);
    live[0]![0] = 99;
    expect(Array.from(avg.weights[0]!)).toEqual([1, 1]);
  });

  it('stays close to the exact mean over many snapshots', () => {
    let avg = null;
    for (let k = 1; k <= 200; k++) avg = addSnapshot(avg, [new Float32Array([k, 1e4 + k * 1e-3])]);
    expect(avg!.weights[0]![0]).toBeCloseTo(100.5, 3);
    expect(avg!.weights[0]![1]).toBeCloseTo(1e4 + 100.5e-3, 2);
  });

  it('rejects a snapshot of another shape', () => {
    const avg = addSnapshot(null, [new Float32Array([1, 2])]);
    expect(() => addSnapshot(avg, [new Float32Array([1, 2]), new Float32Array([3])])).toThrow(/Expected 1 weight arrays/);
    expect(() => addSnapshot(avg, [new Float32Array([1])])).toThrow(/has 1 values, expected 2/);
  });
});

describe('inAveragingWindow', () => {
  it('starts at the given fraction of the run, rounding noise included', () => {
    expect(inAveragingWindow(0.74, 0.75)).toBe(false);
    expect(inAveragingWindow(90 / 120, 0.75)).toBe(true);
    expect(inAveragingWindow(0.3 * 10 / 10, 0.3)).toBe(true);
    expect(inAveragingWindow(1, 0.75)).toBe(true);
  });
});
