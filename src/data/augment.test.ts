import { describe, expect, it } from 'vitest';
import { IDENTITY_AFFINE, KOCH_AFFINE_RANGES, borderMean, randomAffine, rotate90, warpAffine, type Affine } from './augment.js';
import { createRng } from './rng.js';

/** A w x h x c image whose every value is distinct. */
const ramp = (w: number, h: number, c = 1): Float32Array => Float32Array.from({ length: w * h * c }, (_, i) => (i + 1) / (w * h * c));

/** One bright pixel at (x, y) on a zero background. */
const dot = (w: number, h: number, x: number, y: number): Float32Array => {
  const image = new Float32Array(w * h);
  image[y * w + x] = 1;
  return image;
};

const argmax = (a: Float32Array): number => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

describe('warpAffine', () => {
  it('returns the same pixels exactly for the identity (as a new array)', () => {
    const src = ramp(7, 5, 3);
    const out = warpAffine(src, 7, 5, 3, IDENTITY_AFFINE, -1);
    expect(out).toEqual(src);
    expect(out).not.toBe(src);
  });

  it('moves a pixel by the shift, in pixels of this image size', () => {
    const src = dot(28, 28, 10, 12);
    const out = warpAffine(src, 28, 28, 1, { ...IDENTITY_AFFINE, shiftX: 2 / 28, shiftY: -3 / 28 }, 0);
    expect(argmax(out)).toBe((12 - 3) * 28 + (10 + 2));
    expect(out[(12 - 3) * 28 + 12]).toBeCloseTo(1, 6);
    expect(out.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
  });

  it('interpolates bilinearly for half-pixel shifts', () => {
    const src = dot(8, 8, 3, 3);
    const out = warpAffine(src, 8, 8, 1, { ...IDENTITY_AFFINE, shiftX: 0.5 / 8 }, 0);
    expect(out[3 * 8 + 3]).toBeCloseTo(0.5, 6);
    expect(out[3 * 8 + 4]).toBeCloseTo(0.5, 6);
  });

  it('fills from outside the image with the fill value', () => {
    const src = new Float32Array(10 * 10).fill(1);
    const gone = warpAffine(src, 10, 10, 1, { ...IDENTITY_AFFINE, shiftX: 1 }, 0.25);
    expect(Array.from(new Set(gone))).toEqual([0.25]);
    const shrunk = warpAffine(src, 10, 10, 1, { ...IDENTITY_AFFINE, scaleX: 0.5, scaleY: 0.5 }, 0);
    expect(shrunk[0]).toBe(0); // corner now outside the shrunk image
    expect(shrunk[5 * 10 + 5]).toBe(1); // centre stays inside
  });

  it('rotates clockwise on screen, agreeing with rotate90', () => {
    const src = ramp(9, 9);
    const rotated = warpAffine(src, 9, 9, 1, { ...IDENTITY_AFFINE, rotation: Math.PI / 2 }, 0);
    const exact = rotate90(src, 9, 9, 1, 1);
    exact.forEach((v, i) => expect(rotated[i]).toBeCloseTo(v, 5));
  });

  it('warps every channel alike', () => {
    const grey = ramp(6, 6);
    const rgb = Float32Array.from({ length: 6 * 6 * 3 }, (_, i) => grey[Math.floor(i / 3)] * ((i % 3) + 1));
    const affine: Affine = { ...IDENTITY_AFFINE, rotation: 0.3, shearX: 0.1, scaleY: 1.1 };
    const g = warpAffine(grey, 6, 6, 1, affine, 0);
    const c = warpAffine(rgb, 6, 6, 3, affine, 0);
    g.forEach((v, i) => {
      expect(c[i * 3]).toBeCloseTo(v, 6);
      expect(c[i * 3 + 2]).toBeCloseTo(3 * v, 6);
    });
  });

  it('rejects a buffer of the wrong size and singular transforms', () => {
    expect(() => warpAffine(new Float32Array(5), 2, 2, 1, IDENTITY_AFFINE, 0)).toThrow(/expected 2x2x1/);
    expect(() => warpAffine(new Float32Array(4), 2, 2, 1, { ...IDENTITY_AFFINE, scaleX: 0 }, 0)).toThrow(/singular/);
  });
});

describe('borderMean', () => {
  it('averages only the outermost ring of pixels, every channel: the fill for uncovered corners', () => {
    // 4x3, 2 channels: the border holds 1s and 3s, the two inner pixels 100s that must not count.
    const image = new Float32Array(4 * 3 * 2);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) image.set(y === 1 && (x === 1 || x === 2) ? [100, 100] : [1, 3], (y * 4 + x) * 2);
    expect(borderMean(image, 4, 3, 2)).toBe(2);
    // A one-pixel-wide image is all border.
    expect(borderMean(Float32Array.from([1, 2, 6]), 1, 3, 1)).toBe(3);
  });
});

describe('rotate90', () => {
  it('is the identity after four quarter turns, and exact', () => {
    const src = ramp(5, 5, 3);
    let image = src;
    for (let i = 0; i < 4; i++) image = rotate90(image, 5, 5, 3, 1);
    expect(image).toEqual(src);
    expect(rotate90(src, 5, 5, 3, 1)).not.toEqual(src);
  });

  it('turns clockwise: top-left goes to top-right', () => {
    const out = rotate90(dot(4, 4, 0, 0), 4, 4, 1, 1);
    expect(argmax(out)).toBe(3);
    expect(argmax(rotate90(dot(4, 4, 0, 0), 4, 4, 1, 2))).toBe(15);
    expect(rotate90(ramp(4, 4), 4, 4, 1, -1)).toEqual(rotate90(ramp(4, 4), 4, 4, 1, 3));
  });

  it('needs a square image', () => {
    expect(() => rotate90(new Float32Array(6), 3, 2, 1, 1)).toThrow(/square/);
  });
});

describe('randomAffine', () => {
  it('is deterministic by seed and stays within the Koch et al. ranges', () => {
    expect(randomAffine(createRng(4))).toEqual(randomAffine(createRng(4)));
    const rng = createRng(5);
    const maxRotation = (KOCH_AFFINE_RANGES.rotationDeg * Math.PI) / 180;
    let changed = 0;
    for (let i = 0; i < 500; i++) {
      const t = randomAffine(rng);
      expect(Math.abs(t.rotation)).toBeLessThanOrEqual(maxRotation);
      for (const s of [t.shearX, t.shearY]) expect(Math.abs(s)).toBeLessThanOrEqual(0.3);
      for (const s of [t.scaleX, t.scaleY]) {
        expect(s).toBeGreaterThanOrEqual(0.8);
        expect(s).toBeLessThanOrEqual(1.2);
      }
      for (const s of [t.shiftX, t.shiftY]) expect(Math.abs(s * 28)).toBeLessThanOrEqual(2);
      if (t.rotation !== 0) changed++;
    }
    // Each component is applied about half the time.
    expect(changed).toBeGreaterThan(200);
    expect(changed).toBeLessThan(300);
  });

  it('honours overridden ranges and probability', () => {
    expect(randomAffine(createRng(1), { probability: 0 })).toEqual(IDENTITY_AFFINE);
    const t = randomAffine(createRng(1), { probability: 1, rotationDeg: 0, scale: [2, 2] });
    expect(t.rotation === 0).toBe(true);
    expect(t.scaleX).toBe(2);
    expect(t.shearX).not.toBe(0);
  });
});

describe('randomAffine flips', () => {
  it('mirrors left-right with flipProbability and never without it', async () => {
    const { createRng } = await import('./rng.js');
    const rng = createRng(5);
    const flipped = Array.from({ length: 400 }, () => randomAffine(rng, { flipProbability: 0.5 }).scaleX < 0).filter(Boolean).length;
    expect(flipped).toBeGreaterThan(150);
    expect(flipped).toBeLessThan(250);
    const none = Array.from({ length: 200 }, () => randomAffine(rng).scaleX < 0).some(Boolean);
    expect(none).toBe(false);
  });

  it('a mirror reverses each row exactly', () => {
    const src = Float32Array.from({ length: 4 * 3 }, (_, i) => i);
    const out = warpAffine(src, 4, 3, 1, { ...IDENTITY_AFFINE, scaleX: -1 }, 0);
    expect(Array.from(out.subarray(0, 4))).toEqual([3, 2, 1, 0]);
  });
});
