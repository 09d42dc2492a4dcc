import { describe, expect, it } from 'vitest';
import { CHIP_SIZE, chipTemplatePoint, chipTransform, extractChip } from './chip.js';
import type { RgbImage } from './pixels.js';
import { applySimilarity, type Similarity } from './similarity.js';

/** R = x, G = y, B = 50: a bilinear sample of this image at pixel-centre (u, v) reads exactly (u, v). */
function ramp(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set([x, y, 50], (y * width + x) * 3);
  return { data, width, height };
}

const turn = (scale: number, angle: number, tx: number, ty: number): Similarity => ({ a: scale * Math.cos(angle), b: scale * Math.sin(angle), tx, ty });

/** 68 landmarks of dlib's mean face seen through `t`; the jaw (0-16), which no fit uses, is junk. */
function landmarksThrough(t: Similarity) {
  return Array.from({ length: 68 }, (_, i) => (i < 17 ? { x: 1e6 * i, y: -7 } : applySimilarity(t, chipTemplatePoint(i))));
}

describe('chipTransform', () => {
  it.each(['dlib', 'eyes'] as const)('maps the mean face back to where it was placed (%s points)', (points) => {
    const placed = turn(0.6, -0.25, 31, 17);
    const t = chipTransform(landmarksThrough(placed), { points });
    for (const key of ['a', 'b', 'tx', 'ty'] as const) expect(t[key]).toBeCloseTo(placed[key], 9);
  });

  it('puts the eyes of an upright face level and the nose in the middle of the chip', () => {
    const t = chipTransform(landmarksThrough(turn(1, 0, 0, 0)));
    const left = chipTemplatePoint(36), right = chipTemplatePoint(45), nose = chipTemplatePoint(30);
    expect(left.y).toBeCloseTo(right.y, 9);
    expect(nose.x).toBeGreaterThan(CHIP_SIZE * 0.45);
    expect(nose.x).toBeLessThan(CHIP_SIZE * 0.55);
    expect(t.b).toBeCloseTo(0, 12);
  });

  it('needs 68 landmarks, and template points exist only for 17-67', () => {
    expect(() => chipTransform([{ x: 0, y: 0 }])).toThrow(/68 landmarks/);
    expect(() => chipTemplatePoint(16)).toThrow(RangeError);
  });
});

describe('extractChip', () => {
  const image = ramp(256, 256);

  it.each([
    ['rotated, scale 1.3 (direct bilinear)', turn(1.3, 0.3, 90, 20), 60],
    ['scale 3 (one 2x pyramid level)', turn(3, 0.2, 60, 10), 40],
    ['scale 5 (two levels)', turn(5, -0.1, 30, 60), 30],
  ])('samples the image where the transform points: %s', (_, t, size) => {
    const chip = extractChip(image, t, size);
    let checked = 0;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const p = applySimilarity(t, { x: c, y: r });
        // Away from the image's edges, where pyramid blocks are whole.
        if (p.x < 12 || p.y < 12 || p.x > 244 || p.y > 244) continue;
        const o = (r * size + c) * 3;
        expect(chip[o]).toBeCloseTo(p.x - 0.5, 3);
        expect(chip[o + 1]).toBeCloseTo(p.y - 0.5, 3);
        expect(chip[o + 2]).toBeCloseTo(50, 4);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(size * size * 0.5);
  });

  it('fills what lies outside the image with black, or with the nearest edge pixel', () => {
    const t = turn(1, 0, -75, 100); // the chip's left half hangs off the image
    const black = extractChip(image, t, 150);
    const edge = extractChip(image, t, 150, 'edge');
    const at = (chip: Float32Array, c: number, r: number) => [...chip.subarray((r * 150 + c) * 3, (r * 150 + c) * 3 + 3)];
    expect(at(black, 10, 20)).toEqual([0, 0, 0]);
    expect(at(edge, 10, 20)[0]).toBe(0); // column 0 holds R = 0 …
    expect(at(edge, 10, 20)[2]).toBe(50); // … and B = 50
    expect(at(black, 140, 20)[0]).toBeCloseTo(140 - 75 - 0.5, 4);
    expect(extractChip(image, turn(1, 0, 5000, 5000), 150).every((v) => v === 0)).toBe(true);
  });

  it('gives the same bytes for the same input', () => {
    const t = turn(2.2, 0.7, 100, 5);
    const a = extractChip(image, t);
    const b = extractChip(image, t);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(a).toHaveLength(CHIP_SIZE * CHIP_SIZE * 3);
  });
});
