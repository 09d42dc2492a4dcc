import { describe, expect, it } from 'vitest';
import { ERASE_DEFAULTS, IDENTITY_AFFINE, KOCH_AFFINE_RANGES, addShading, borderMean, adjustPhotometric, eraseRect, randomAffine, randomEraseRect, randomPhotometric, rotate90, warpAffine, type Affine, type EraseRanges } from './augment.js';
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

describe('randomAffine isotropic', () => {
  it('uses one scale for x and y, drawing the same stream as without', () => {
    const ranges = { scale: [0.7, 1.4] as [number, number], probability: 1 };
    const a = createRng(9);
    const b = createRng(9);
    for (let i = 0; i < 50; i++) {
      const iso = randomAffine(a, { ...ranges, isotropic: true });
      const free = randomAffine(b, ranges);
      expect(iso.scaleY).toBe(iso.scaleX);
      expect(iso.scaleX).toBe(free.scaleX);
      expect(iso.rotation).toBe(free.rotation);
    }
  });
});

describe('photometric jitter', () => {
  const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  const std = (a: Float32Array): number => Math.sqrt(a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / a.length);

  it('changes nothing at brightness 0, contrast 1, gamma 1', () => {
    const src = ramp(6, 5);
    expect(Array.from(adjustPhotometric(src, { brightness: 0, contrast: 1, gamma: 1 }))).toEqual(Array.from(src).map((v) => expect.closeTo(v, 6)));
  });

  it('scales contrast about the mean and offsets by a fraction of the range', () => {
    const src = ramp(6, 5); // values 1/30 .. 1: range 29/30
    const contrast = adjustPhotometric(src, { brightness: 0, contrast: 1.5, gamma: 1 });
    expect(mean(contrast)).toBeCloseTo(mean(src), 6);
    expect(std(contrast)).toBeCloseTo(1.5 * std(src), 5);
    const brighter = adjustPhotometric(src, { brightness: 0.1, contrast: 1, gamma: 1 });
    expect(brighter[0]! - src[0]!).toBeCloseTo(0.1 * (29 / 30), 6);
  });

  it('gamma keeps min and max and bends the values between', () => {
    const src = Float32Array.from([-2, -1, 0, 2]); // any normalisation: works on the min-max rescaled image
    const out = adjustPhotometric(src, { brightness: 0, contrast: 1, gamma: 2 });
    expect(out[0]).toBeCloseTo(-2, 6);
    expect(out[3]).toBeCloseTo(2, 6);
    expect(out[2]).toBeCloseTo(-2 + 4 * 0.5 ** 2, 6);
  });

  it('leaves a flat image alone, and draws within the ranges by seed', () => {
    expect(Array.from(adjustPhotometric(new Float32Array(4).fill(0.3), { brightness: 0.2, contrast: 1.3, gamma: 2 }))).toEqual(new Array(4).fill(expect.closeTo(0.3, 6)));
    const ranges = { brightness: 0.1, contrast: 0.2, gamma: 0.5 };
    const a = createRng(5);
    const b = createRng(5);
    for (let i = 0; i < 200; i++) {
      const p = randomPhotometric(a, ranges);
      expect(p).toEqual(randomPhotometric(b, ranges));
      expect(Math.abs(p.brightness)).toBeLessThanOrEqual(0.1);
      expect(p.contrast).toBeGreaterThanOrEqual(0.8);
      expect(p.contrast).toBeLessThanOrEqual(1.2);
      expect(p.gamma).toBeGreaterThanOrEqual(1 / 1.5 - 1e-12);
      expect(p.gamma).toBeLessThanOrEqual(1.5 + 1e-12);
    }
  });
});

describe('side shading', () => {
  it('adds a ramp along the direction spanning strength x range, zero on average', () => {
    const src = new Float32Array(5 * 3);
    src[0] = 1; // range 1
    const out = addShading(src, 5, 3, 1, { strength: 0.4, angle: 0 });
    // Left to right: -0.2 .. +0.2 on every row (pixel 0 keeps its own value on top).
    expect(out[4]! - out[3]!).toBeCloseTo(0.1, 6);
    expect(out[14]! - out[10]!).toBeCloseTo(0.4, 6);
    expect(out[7]).toBeCloseTo(0, 6); // the centre
    const down = addShading(src, 5, 3, 1, { strength: 0.4, angle: Math.PI / 2 });
    expect(down[12]! - down[2]!).toBeCloseTo(0.4, 6); // bottom brighter than top, columns flat
    expect(down[11]! - down[10]!).toBeCloseTo(0, 6);
  });

  it('is drawn only when enabled, without changing the other draws', () => {
    const ranges = { brightness: 0.1, contrast: 0.2, gamma: 0.5 };
    const plain = randomPhotometric(createRng(3), ranges);
    const shaded = randomPhotometric(createRng(3), { ...ranges, shading: 0.5 });
    expect(plain).not.toHaveProperty('shading');
    expect({ ...shaded, shading: undefined }).toEqual({ ...plain, shading: undefined });
    expect(shaded.shading!.strength).toBeLessThanOrEqual(0.5);
  });
});

describe('random erasing', () => {
  const ranges: EraseRanges = { probability: 1, ...ERASE_DEFAULTS };

  it('erases with the given probability, always drawing the same number of values', () => {
    const rng = createRng(5);
    const erased = Array.from({ length: 1000 }, () => randomEraseRect(rng, { ...ranges, probability: 0.3 }, 48, 56)).filter(Boolean).length;
    expect(erased).toBeGreaterThan(240);
    expect(erased).toBeLessThan(360);
    // Erased or not, the stream moves on by the same amount.
    const a = createRng(9);
    const b = createRng(9);
    randomEraseRect(a, { ...ranges, probability: 0 }, 48, 56);
    randomEraseRect(b, ranges, 48, 56);
    expect(a.next()).toBe(b.next());
    expect(randomEraseRect(createRng(1), { ...ranges, probability: 0 }, 48, 56)).toBeNull();
  });

  it('draws rectangles inside the image with the asked area and aspect', () => {
    const rng = createRng(2);
    for (let k = 0; k < 500; k++) {
      const r = randomEraseRect(rng, { probability: 1, area: [0.1, 0.2], aspect: [0.5, 2] }, 40, 30)!;
      expect(r.left).toBeGreaterThanOrEqual(0);
      expect(r.top).toBeGreaterThanOrEqual(0);
      expect(r.left + r.width).toBeLessThanOrEqual(40);
      expect(r.top + r.height).toBeLessThanOrEqual(30);
      // Rounding to whole pixels moves the area a little.
      expect(r.width * r.height).toBeGreaterThan(0.08 * 1200);
      expect(r.width * r.height).toBeLessThan(0.23 * 1200);
      expect(r.height / r.width).toBeGreaterThan(0.4);
      expect(r.height / r.width).toBeLessThan(2.5);
    }
  });

  it('clips a rectangle larger than the image', () => {
    const r = randomEraseRect(createRng(3), { probability: 1, area: [1, 1], aspect: [4, 4] }, 20, 10)!;
    expect(r).toMatchObject({ top: 0, height: 10 });
    expect(r.left + r.width).toBeLessThanOrEqual(20);
  });

  it('replaces only the rectangle, with noise inside the image range, on every channel', () => {
    const src = ramp(6, 5, 2);
    const rect = { left: 1, top: 2, width: 3, height: 2 };
    const out = eraseRect(src, 6, 5, 2, rect, createRng(4));
    let changed = 0;
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 6; x++) {
        const inside = x >= 1 && x < 4 && y >= 2 && y < 4;
        for (let c = 0; c < 2; c++) {
          const i = (y * 6 + x) * 2 + c;
          if (!inside) expect(out[i]).toBe(src[i]);
          else {
            expect(out[i]).toBeGreaterThanOrEqual(src[0]!);
            expect(out[i]).toBeLessThanOrEqual(src[src.length - 1]!);
            if (out[i] !== src[i]) changed++;
          }
        }
      }
    }
    expect(changed).toBe(3 * 2 * 2);
    expect(src).toEqual(ramp(6, 5, 2)); // the input is untouched
  });
});
