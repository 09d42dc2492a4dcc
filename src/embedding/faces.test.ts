import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsDir } from '../data/datasets.js';
import { createRng } from '../data/rng.js';
import { busyBackground, encodeJpeg, pasteFaces } from '../face/composite.js';
import { DEFAULT_DETECTOR, saveFaceModel } from '../face/model.js';
import { initBackend } from '../model/backend.js';
import type { ModelCard } from '../model/card.js';
import { readModelCard } from '../model/io.js';
import { openEmbedder } from './open.js';
import type { Embedder } from './embedder.js';
import { faceModelDraft } from '../../test/fixtures/faces.js';

const att = join(datasetsDir(), 'att-faces');
const haveAtt = existsSync(join(att, 's40', '10.png'));

let dir: string;
let card: ModelCard;
let embedder: Embedder;
const files: string[] = [];

beforeAll(async () => {
  await initBackend({ preference: 'wasm', strict: true, log: () => {} });
  dir = await mkdtemp(join(tmpdir(), 'faces-embed-'));
  card = await saveFaceModel(join(dir, 'model'), faceModelDraft());
  embedder = await openEmbedder(join(dir, 'model'));
  if (!haveAtt) return;
  // A tight AT&T crop, a face-free scene and a scene with two faces (the bigger one from s33).
  const rng = createRng(3);
  const empty = busyBackground(320, 240, rng);
  const two = await pasteFaces(busyBackground(640, 480, rng), [
    { file: join(att, 's32/1.png'), x: 40, y: 100, width: 90 },
    { file: join(att, 's33/1.png'), x: 300, y: 60, width: 200 },
  ]);
  await writeFile(join(dir, 'empty.jpg'), await encodeJpeg(empty));
  await writeFile(join(dir, 'two.jpg'), await encodeJpeg(two.image));
  files.push(join(att, 's31/1.png'), join(dir, 'empty.jpg'), join(dir, 'two.jpg'), join(att, 's33/2.png'));
}, 120_000);

afterAll(async () => {
  await embedder?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('face model card', () => {
  it('records the stage, the pretrained tower and every weight file, and reads back as written', async () => {
    expect(card.preprocess.face?.detector).toEqual(DEFAULT_DETECTOR);
    expect(card.preprocess.face?.files.map((f) => f.file)).toContain('model/tiny_face_detector_model.bin');
    expect(card.tower).toMatchObject({ arch: 'pretrained', embeddingSize: 128, pretrained: { dim: 128 } });
    expect(card.tower.pretrained?.files.map((f) => f.file)).toContain('model/face_recognition_model.bin');
    expect(card.weights).toBeUndefined();
    expect(card.parameters).toBeGreaterThan(1_000_000);
    expect(await readModelCard(join(dir, 'model'))).toEqual(card);
  });

  it('changes the model id with the detector settings, and keeps it for the same settings', async () => {
    const again = await saveFaceModel(join(dir, 'again'), faceModelDraft());
    const other = await saveFaceModel(join(dir, 'other'), { ...faceModelDraft(), detector: { ...DEFAULT_DETECTOR, minScore: 0.4 } });
    expect(again.modelId).toBe(card.modelId);
    expect(other.modelId).not.toBe(card.modelId);
  });

  it('refuses to load when an installed weight file differs from the card', async () => {
    const tampered = structuredClone(card);
    tampered.tower.pretrained!.files[1].sha256 = '0'.repeat(64);
    await writeFile(join(dir, 'again', 'model-card.json'), JSON.stringify(tampered));
    await expect(openEmbedder(join(dir, 'again'))).rejects.toThrow(/differ from the model card/);
  });
});

describe.skipIf(!haveAtt)('face embedder', () => {
  it('embeds the largest face of each image and lists images without a face and with several', async () => {
    const before = tf.memory().numTensors;
    const { vectors, failed, faces } = await embedder.embedAll(files);
    expect(tf.memory().numTensors).toBe(before);
    expect(failed).toEqual([{ index: 1, reason: 'no face found' }]);
    expect(faces).toEqual({ none: [1], several: [{ index: 2, faces: 2 }] });
    const row = (i: number) => vectors.subarray(i * 128, (i + 1) * 128);
    const dist = (a: Float32Array, b: Float32Array) => Math.hypot(...a.map((v, i) => v - b[i]));
    // The two-face scene's vector is s33's (the larger face), near s33's other photo, far from s31.
    expect(dist(row(2), row(3))).toBeLessThan(0.6);
    expect(dist(row(2), row(0))).toBeGreaterThan(0.6);
  });

  it('returns every face with box and score, largest first; worker threads give the same vectors', async () => {
    const image = await embedder.faces!.decode(files[2]);
    const [found] = await embedder.faces!.find([image], { chips: true });
    expect(found).toHaveLength(2);
    expect(found[0].box.width).toBeGreaterThan(found[1].box.width);
    expect(found[0].box.x).toBeGreaterThan(250);
    expect(found[0].chip).toHaveLength(150 * 150 * 3);
    const workers = await openEmbedder(join(dir, 'model'), { workers: 1 });
    try {
      const [inWorker] = await workers.faces!.find([await workers.faces!.decode(files[2])]);
      expect(inWorker.map((f) => f.box)).toEqual(found.map((f) => f.box));
      expect(Array.from(inWorker[0].vector)).toEqual(Array.from(found[0].vector));
      expect(inWorker[0].chip).toBeUndefined();
    } finally {
      await workers.close();
    }
  }, 120_000);
});
