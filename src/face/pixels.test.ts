import { describe, expect, it } from 'vitest';
import { addBorder, cropRgb, downscale, toRgb } from './pixels.js';

describe('toRgb', () => {
  it('reads grey, grey + alpha, RGB and RGBA as the same RGB image', () => {
    const grey = Uint8Array.from([10, 20, 30, 40, 50, 60]);
    const rgb = Uint8Array.from([...grey].flatMap((v) => [v, v, v]));
    expect(toRgb(grey, 3, 2).data).toEqual(rgb);
    expect(toRgb(Uint8Array.from([...grey].flatMap((v) => [v, 255])), 3, 2).data).toEqual(rgb);
    expect(toRgb(Uint8ClampedArray.from(rgb), 3, 2).data).toEqual(rgb);
    expect(toRgb(Uint8Array.from([...grey].flatMap((v) => [v, v, v, 7])), 3, 2).data).toEqual(rgb);
  });

  it('rejects a length that is no whole number of channels, and bad sizes', () => {
    expect(() => toRgb(new Uint8Array(7), 3, 2)).toThrow(RangeError);
    expect(() => toRgb(new Uint8Array(30), 3, 2)).toThrow(/1, 2, 3 or 4/);
    expect(() => toRgb(new Uint8Array(0), 0, 0)).toThrow(/positive integers/);
  });
});

describe('addBorder', () => {
  it('surrounds the image with grey and keeps it in the middle', () => {
    const image = toRgb(Uint8Array.from([200]), 1, 1);
    const bordered = addBorder(image, 1, 128);
    expect([bordered.width, bordered.height]).toEqual([3, 3]);
    expect([...bordered.data.subarray(12, 15)]).toEqual([200, 200, 200]);
    expect([...bordered.data].filter((v) => v === 128)).toHaveLength(24);
  });
});

describe('cropRgb', () => {
  it('clips the box to the image and returns where the crop starts', () => {
    const image = toRgb(Uint8Array.from({ length: 16 }, (_, i) => i), 4, 4);
    const { image: crop, x, y } = cropRgb(image, { x: -2, y: 2.5, width: 4, height: 10 });
    expect([x, y, crop.width, crop.height]).toEqual([0, 2, 2, 2]);
    expect([...crop.data].filter((_, i) => i % 3 === 0)).toEqual([8, 9, 12, 13]);
  });

  it('keeps at least one pixel for a box outside the image', () => {
    const image = toRgb(new Uint8Array(16), 4, 4);
    const { image: crop } = cropRgb(image, { x: 10, y: 10, width: 3, height: 3 });
    expect([crop.width, crop.height]).toEqual([1, 1]);
  });
});

describe('downscale', () => {
  it('averages factor x factor blocks, and what exists of the edge blocks', () => {
    const image = toRgb(Uint8Array.from([0, 10, 100, 20, 30, 200]), 3, 2);
    const small = downscale(image, 2);
    expect([small.width, small.height]).toEqual([2, 1]);
    expect([small.data[0], small.data[3]]).toEqual([15, 150]);
  });

  it('returns the image itself for factor 1', () => {
    const image = toRgb(new Uint8Array(4), 2, 2);
    expect(downscale(image, 1)).toBe(image);
  });
});
