import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../model/backend.js';
import { faceApiPackageDir, faceApiVersion, loadFaceApi } from './faceapi.js';
import { loadNet, type NetKind } from './nets.js';
import { readFaceWeights } from './weights.js';

beforeAll(async () => {
  await initBackend({ preference: 'wasm', strict: true, log: () => {} });
});

describe('loadFaceApi', () => {
  it('runs face-api on our tfjs engine: one engine, one Tensor class', () => {
    const api = loadFaceApi();
    expect(api.tf.engine()).toBe(tf.engine());
    const ours = tf.zeros([2, 2]);
    expect(ours).toBeInstanceOf(api.tf.Tensor);
    ours.dispose();
  });
});

describe('readFaceWeights', () => {
  it('hashes exactly the files it reads from the installed package', async () => {
    const { weightMap, files } = await readFaceWeights('face_landmark_68_tiny_model');
    tf.dispose(Object.values(weightMap));
    expect(files.map((f) => f.file)).toEqual(['model/face_landmark_68_tiny_model-weights_manifest.json', 'model/face_landmark_68_tiny_model.bin']);
    for (const f of files) {
      const bytes = readFileSync(join(faceApiPackageDir(), f.file));
      expect(f).toEqual({
        package: '@vladmandic/face-api',
        version: faceApiVersion(),
        file: f.file,
        bytes: bytes.byteLength,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      });
    }
    // The version the model card records is the one package.json pins.
    expect(faceApiVersion()).toBe('1.7.15');
  });

  it('decodes every weight the manifest lists, as float32', async () => {
    const manifest = JSON.parse(readFileSync(join(faceApiPackageDir(), 'model/tiny_face_detector_model-weights_manifest.json'), 'utf8')) as { weights: { name: string; shape: number[] }[] }[];
    const { weightMap } = await readFaceWeights('tiny_face_detector_model');
    const names = manifest.flatMap((g) => g.weights.map((w) => w.name));
    expect(Object.keys(weightMap).sort()).toEqual([...names].sort());
    for (const w of manifest[0].weights) expect(weightMap[w.name].shape).toEqual(w.shape);
    expect(new Set(Object.values(weightMap).map((t) => t.dtype))).toEqual(new Set(['float32']));
    tf.dispose(Object.values(weightMap));
  });
});

describe('loadNet', () => {
  it.each<NetKind>(['ssd', 'tiny', 'landmarks68', 'landmarks68Tiny', 'recognition'])('loads %s and frees every tensor on dispose', async (kind) => {
    const before = tf.memory().numTensors;
    const { net, files } = await loadNet(kind);
    expect(net.isLoaded).toBe(true);
    expect(files).toHaveLength(2);
    expect(tf.memory().numTensors).toBeGreaterThan(before);
    net.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
