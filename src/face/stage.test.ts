import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsDir } from '../data/datasets.js';
import { createRng } from '../data/rng.js';
import { initBackend } from '../model/backend.js';
import { CHIP_SIZE } from './chip.js';
import { busyBackground, gridPlacements, pasteFaces } from './composite.js';
import type { Box } from './faceapi.js';
import { loadFaceStage, type FaceStage } from './stage.js';

const att = join(datasetsDir(), 'att-faces');
const haveAtt = existsSync(join(att, 's40', '10.png'));
let stage: FaceStage;

beforeAll(async () => {
  await initBackend({ preference: 'wasm', strict: true, log: () => {} });
  stage = await loadFaceStage();
});
afterAll(() => stage?.dispose());

const greyFace = async (file: string) => sharp(join(att, file)).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
const inside = (box: Box, x: number, y: number) => x >= box.x && x <= box.x + box.width && y >= box.y && y <= box.y + box.height;
const flat = (width: number, height: number, value: number) => ({ data: new Uint8Array(width * height * 3).fill(value), width, height });

describe.skipIf(!haveAtt)('FaceStage.detect on AT&T faces', () => {
  it('finds the face in a tight 92x112 crop and cuts an aligned 150x150 chip', async () => {
    const { data, info } = await greyFace('s31/1.png');
    const faces = await stage.detect(data, info.width, info.height);
    expect(faces).toHaveLength(1);
    const [face] = faces;
    expect(face.score).toBeGreaterThanOrEqual(0.5);
    expect(face.box.x).toBeGreaterThanOrEqual(0);
    expect(face.box.x + face.box.width).toBeLessThanOrEqual(92);
    expect(face.landmarks).toHaveLength(68);
    // Eyes (36-47) above the mouth (48-67), all within the image.
    const eyeY = Math.max(...face.landmarks.slice(36, 48).map((p) => p.y));
    expect(eyeY).toBeLessThan(Math.min(...face.landmarks.slice(48).map((p) => p.y)));
    expect(face.crop).toHaveLength(CHIP_SIZE * CHIP_SIZE * 3);
  });

  it('gives the same faces, byte for byte, for grey, RGB and RGBA pixels and on every call, leaving no tensor behind', async () => {
    const { data, info } = await greyFace('s35/3.png');
    const tensors = tf.memory().numTensors;
    const rgb = Uint8Array.from([...data].flatMap((v) => [v, v, v]));
    const rgba = Uint8Array.from([...data].flatMap((v) => [v, v, v, 255]));
    const runs = [await stage.detect(data, 92, 112), await stage.detect(rgb, 92, 112), await stage.detect(rgba, 92, 112), await stage.detect(data, info.width, info.height)];
    const bytes = runs.map(([f]) => Buffer.from(f.crop.buffer).toString('base64'));
    expect(new Set(bytes).size).toBe(1);
    expect(runs.map(([f]) => f.box)).toEqual(Array(4).fill(runs[0][0].box));
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it('finds six faces in a busy scene, largest first, each on a pasted face', async () => {
    // A scene the detector gets wholly right (it finds about 93% of such faces: docs/research/2026-12-face-stage.md).
    const rng = createRng(8);
    const files = ['s31/1.png', 's32/2.png', 's33/3.png', 's34/4.png', 's36/5.png', 's38/6.png'].map((f) => join(att, f));
    const scene = await pasteFaces(busyBackground(640, 480, rng), gridPlacements(files, 640, 480, [90, 120], rng));
    const faces = await stage.detect(scene.image.data, 640, 480);
    expect(faces).toHaveLength(6);
    const areas = faces.map((f) => f.box.width * f.box.height);
    expect(areas).toEqual([...areas].sort((a, b) => b - a));
    for (const pasted of scene.faces) {
      expect(faces.filter((f) => inside(pasted.box, f.box.x + f.box.width / 2, f.box.y + f.box.height / 2))).toHaveLength(1);
    }
  });

  it('finds a face cut by the image border, with its box clipped and black outside the image', async () => {
    // A fifth of the face off the image (how often such faces are found: docs/research/2026-12-face-stage.md).
    const scene = await pasteFaces(flat(320, 240, 110), [{ file: join(att, 's37/1.png'), x: -20, y: 60, width: 100 }]);
    const [face, ...rest] = await stage.detect(scene.image.data, 320, 240);
    expect(rest).toHaveLength(0);
    expect(face.box.x).toBe(0);
    // The chip's margin reaches past the image's left edge: its leftmost column is black.
    expect(Array.from({ length: CHIP_SIZE }, (_, r) => face.crop[r * CHIP_SIZE * 3]).filter((v) => v === 0).length).toBeGreaterThan(CHIP_SIZE / 2);
  });

  it('returns nothing for a 10-pixel face', async () => {
    const scene = await pasteFaces(flat(200, 150, 110), [{ file: join(att, 's31/1.png'), x: 90, y: 60, width: 10 }]);
    expect(await stage.detect(scene.image.data, 200, 150)).toEqual([]);
  });
});

describe('FaceStage.detect without faces', () => {
  it('returns [] for a face-free scene, a flat image and a 1x1 image', async () => {
    const empty = busyBackground(320, 240, createRng(11));
    expect(await stage.detect(empty.data, 320, 240)).toEqual([]);
    expect(await stage.detect(flat(64, 64, 0).data, 64, 64)).toEqual([]);
    expect(await stage.detect(new Uint8Array([5, 5, 5]), 1, 1)).toEqual([]);
  });

  it('rejects pixels that do not match the size, and leaves no tensor behind', async () => {
    const before = tf.memory().numTensors;
    await expect(stage.detect(new Uint8Array(10), 4, 4)).rejects.toThrow(RangeError);
    await stage.detect(flat(64, 64, 90).data, 64, 64);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports its detector settings and the weight files it loaded, detector then landmarks', () => {
    expect(stage.detector).toEqual({ name: 'tiny', minScore: 0.5, maxFaces: 100, inputSizes: [512, 224], retryInputSize: 224, retryBorder: 1 });
    expect(stage.files.map((f) => f.file)).toEqual([
      'model/tiny_face_detector_model-weights_manifest.json',
      'model/tiny_face_detector_model.bin',
      'model/face_landmark_68_model-weights_manifest.json',
      'model/face_landmark_68_model.bin',
    ]);
  });
});
