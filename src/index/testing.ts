/**
 * Fixtures for the index tests, smoke benchmarks and the crash script: tiny generated galleries
 * and a tiny random-weight tower saved as a real model directory. Not used in production.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import type { PreprocessConfig, TowerConfig } from '../model/config.js';
import { saveModel } from '../model/io.js';
import { buildTower } from '../model/tower.js';
import { createRng } from '../data/rng.js';

export const TINY_PREPROCESS: PreprocessConfig = { width: 28, height: 28, channels: 1, fit: 'fill', invert: false, mean: 0, std: 1 };

/**
 * A 28x28 grey PNG whose pixels come from `seed`: different seeds give different images
 * (and embeddings), equal seeds identical bytes.
 *
 * @example
 * await writeFile('g/alice/1.png', await syntheticPng(1));
 */
export async function syntheticPng(seed: number, size = 28): Promise<Buffer> {
  const rng = createRng(seed);
  const pixels = Buffer.alloc(size * size);
  // Smooth blobs rather than white noise, so the random tower's outputs spread out.
  const cx = rng.next() * size;
  const cy = rng.next() * size;
  const r = 3 + rng.next() * 8;
  const base = Math.floor(rng.next() * 80);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - cx, y - cy);
      pixels[y * size + x] = Math.min(255, base + (d < r ? 150 : 0) + Math.floor(rng.next() * 40));
    }
  }
  return sharp(pixels, { raw: { width: size, height: size, channels: 1 } }).png().toBuffer();
}

/**
 * Writes `identities` folders of `perIdentity` PNGs under `root` (`id000/0.png`, …); image
 * seeds are `seedBase + identity * 1000 + index`.
 *
 * @example
 * await writeSyntheticGallery('/tmp/g', 3, 2); // id000/0.png id000/1.png id001/0.png …
 */
export async function writeSyntheticGallery(root: string, identities: number, perIdentity: number, seedBase = 0): Promise<string[]> {
  const files: string[] = [];
  for (let i = 0; i < identities; i++) {
    const dir = join(root, `id${String(i).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    for (let j = 0; j < perIdentity; j++) {
      const file = join(dir, `${j}.png`);
      await writeFile(file, await syntheticPng(seedBase + i * 1000 + j));
      files.push(file);
    }
  }
  return files;
}

/**
 * Saves a tiny conv4 tower with random weights (seeded) as a model directory.
 * Different seeds give different weights, hence a different model id.
 *
 * @example
 * const card = await writeTinyModel('/tmp/model', { seed: 1 });
 */
export async function writeTinyModel(dir: string, options: { seed?: number; embeddingSize?: number; metric?: 'l2' | 'cosine'; l2Normalize?: boolean; flipAverage?: boolean; center?: number[] } = {}) {
  const tower: TowerConfig = {
    arch: 'conv4', embeddingSize: options.embeddingSize ?? 8, filters: 4, l2Normalize: options.l2Normalize ?? true,
    ...(options.flipAverage ? { flipAverage: true } : {}),
    ...(options.center ? { center: options.center } : {}),
  };
  const model = buildTower(tower, TINY_PREPROCESS, options.seed ?? 1);
  try {
    const point = { threshold: 1, far: 0.5, tar: 0.5 };
    return await saveModel(dir, model, {
      name: 'tiny-random',
      preprocess: TINY_PREPROCESS,
      tower,
      metric: options.metric ?? 'l2',
      loss: { name: 'contrastive', margin: 1 },
      thresholds: { eer: point, atFar: [], default: 1 },
      validation: { auc: 0.5, eer: 0.5, samePairs: 0, differentPairs: 0 },
      training: {
        backend: 'none', seed: options.seed ?? 1, epochs: 0, steps: 0, batchSize: 1, learningRate: 0, wallSeconds: 0,
        trainIdentities: 0, valIdentities: 0, images: 0, dataDigest: 'untrained-test-fixture',
      },
    });
  } finally {
    model.dispose();
  }
}
