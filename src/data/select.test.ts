import { describe, expect, it } from 'vitest';
import { gatherImages, imagesOfIdentities, selectIdentities } from './select.js';
import type { Gallery } from './gallery.js';

describe('selectIdentities', () => {
  const gallery: Gallery = { root: '/g', identities: ['s1', 's2', 's10', 's31'].map((name) => ({ name, files: [] })), nonImages: [], warnings: [] };
  const names = (g: Gallery) => g.identities.map((i) => i.name);

  it('keeps the included names, then drops the excluded ones', () => {
    expect(names(selectIdentities(gallery, { include: /^s([1-9]|[12]\d|30)$/ }))).toEqual(['s1', 's2', 's10']);
    expect(names(selectIdentities(gallery, { include: /^s/, exclude: /^s1/ }))).toEqual(['s2', 's31']);
    expect(selectIdentities(gallery, {})).toBe(gallery);
  });
});

describe('imagesOfIdentities', () => {
  it('gives the indices of those identities’ images, in set order', () => {
    expect(imagesOfIdentities(new Int32Array([0, 0, 1, 2, 1, 2]), [2, 0])).toEqual([0, 1, 3, 5]);
    expect(imagesOfIdentities(new Int32Array([0, 1]), [])).toEqual([]);
  });
});

describe('gatherImages', () => {
  const data = Float32Array.from({ length: 4 * 3 }, (_, i) => i); // 4 images of 3 floats

  it('copies the images at the indices back to back, in the order asked', () => {
    expect(Array.from(gatherImages(data, 3, [2, 0, 2]))).toEqual([6, 7, 8, 0, 1, 2, 6, 7, 8]);
    expect(gatherImages(data, 3, [])).toHaveLength(0);
  });

  it('refuses an index outside the images', () => {
    expect(() => gatherImages(data, 3, [4])).toThrow(/image index 4 is outside the 4 images/);
    expect(() => gatherImages(data, 3, [-1])).toThrow(RangeError);
    expect(() => gatherImages(data, 3, [1.5])).toThrow(RangeError);
  });
});
