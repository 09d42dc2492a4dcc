import { describe, expect, it } from 'vitest';
import { describeDetector, findFaces, iou, mergeDetections, type Detection, type FaceDetector } from './detect.js';
import type { RgbImage } from './pixels.js';

/** A stand-in detector: answers from a function of the image it is shown, and records the sizes it saw. */
function fakeDetector(answer: (image: RgbImage) => Detection[], retryBorder = 1): FaceDetector & { seen: string[] } {
  const seen: string[] = [];
  return {
    name: 'tiny',
    settings: { name: 'tiny', minScore: 0.5, maxFaces: 100, inputSizes: [512], retryInputSize: 224, retryBorder },
    files: [],
    retryBorder,
    seen,
    locate: async (image, pass = 'first') => {
      seen.push(`${image.width}x${image.height} ${pass}`);
      return answer(image);
    },
    dispose: () => {},
  };
}

const grey = (width: number, height: number, value = 90): RgbImage => ({ data: new Uint8Array(width * height * 3).fill(value), width, height });

describe('findFaces', () => {
  it('returns one pass when it finds faces, largest box first', async () => {
    const detector = fakeDetector(() => [
      { box: { x: 1, y: 1, width: 5, height: 5 }, score: 0.9 },
      { box: { x: 10, y: 10, width: 20, height: 20 }, score: 0.6 },
    ]);
    const faces = await findFaces(detector, grey(64, 48));
    expect(detector.seen).toEqual(['64x48 first']);
    expect(faces.map((f) => f.score)).toEqual([0.6, 0.9]);
  });

  it('retries on the image in a grey border when a pass finds nothing, and maps boxes back', async () => {
    const detector = fakeDetector((image) => {
      if (image.width === 92) return [];
      // The border is grey 128; the face (value 90) starts at the border's width.
      expect(image.data[0]).toBe(128);
      return [{ box: { x: 112 - 4, y: 112 + 10, width: 100, height: 80 }, score: 0.7 }];
    });
    const [face] = await findFaces(detector, grey(92, 112));
    expect(detector.seen).toEqual(['92x112 first', '316x336 retry']);
    // Shifted back by the 112-pixel border, then clipped to the image.
    expect(face.box).toEqual({ x: 0, y: 10, width: 92, height: 80 });
  });

  it("uses the detector's own retry border, and none when told so", async () => {
    const half = fakeDetector(() => [], 0.5);
    await findFaces(half, grey(92, 112));
    expect(half.seen).toEqual(['92x112 first', '204x224 retry']);
    const none = fakeDetector(() => []);
    expect(await findFaces(none, grey(92, 112), { retryBorder: 0 })).toEqual([]);
    expect(none.seen).toEqual(['92x112 first']);
  });

  it('drops boxes wholly in the border', async () => {
    const inBorder = fakeDetector((image) => (image.width === 92 ? [] : [{ box: { x: 2, y: 2, width: 30, height: 30 }, score: 0.8 }]));
    expect(await findFaces(inBorder, grey(92, 112))).toEqual([]);
  });

  it('shrinks big images by a whole factor and scales boxes back up', async () => {
    const detector = fakeDetector(() => [{ box: { x: 100, y: 50, width: 40, height: 60 }, score: 0.9 }]);
    const [face] = await findFaces(detector, grey(3000, 2000));
    expect(detector.seen).toEqual(['1000x667 first']);
    expect(face.box).toEqual({ x: 300, y: 150, width: 120, height: 180 });
  });

  it('shrinks the bordered retry to the same limit, and maps its boxes back (a big tight crop)', async () => {
    const detector = fakeDetector((image) => (image.width === 1000 ? [] : [{ box: { x: 434, y: 384, width: 100, height: 150 }, score: 0.9 }]));
    const [face] = await findFaces(detector, grey(3000, 2000));
    // 3000 px with a border of its size each side is 9000 px: shrunk 9x to 334x223, plus a 334-px border.
    expect(detector.seen).toEqual(['1000x667 first', '1002x891 retry']);
    expect(face.box).toEqual({ x: 900, y: 450, width: 900, height: 1350 });
  });
});

describe('mergeDetections', () => {
  it('keeps each face once, by its best score, and keeps faces that do not overlap', () => {
    const face = (x: number, score: number): Detection => ({ box: { x, y: 0, width: 10, height: 10 }, score });
    const merged = mergeDetections([face(0, 0.6), face(1, 0.9), face(50, 0.7), face(6, 0.8)]);
    // x=1 (0.9) beats x=0 (IoU 0.82); x=6 overlaps x=1 with IoU 0.33 < 0.5, so it stays.
    expect(merged.map((d) => d.box.x)).toEqual([1, 6, 50]);
    expect(iou(face(0, 1).box, face(5, 1).box)).toBeCloseTo(1 / 3, 12);
    expect(iou(face(0, 1).box, face(20, 1).box)).toBe(0);
  });
});

describe('describeDetector', () => {
  it('names the sizes and the retry in one line', () => {
    expect(describeDetector({ name: 'tiny', minScore: 0.5, maxFaces: 100, inputSizes: [512, 224], retryInputSize: 224, retryBorder: 1 })).toBe('tiny 512 + 224, retry at 224 in a border of 1');
    expect(describeDetector({ name: 'ssd', minScore: 0.5, maxFaces: 100, inputSizes: [512], retryInputSize: 512, retryBorder: 0 })).toBe('ssd 512, no retry');
  });
});
