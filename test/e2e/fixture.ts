/**
 * A small, real serving fixture for the end-to-end tests: a tiny seeded tower saved as a model
 * directory, a gallery of generated images (one shape per identity, a few noisy drawings of it),
 * and an index built by the project's indexer. The tower's weights are random, so the test does
 * not take "same identity" for granted: it embeds the gallery itself and picks its verification
 * pairs from the measured distances, checking they fall on the expected side of the threshold.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng } from '../../src/data/rng.js';
import type { ModelCard } from '../../src/model/card.js';
import { openEmbedder } from '../../src/embedding/index.js';
import { runIndex } from '../../src/index/reindex.js';
import { GalleryStore } from '../../src/index/store.js';
import { writeTinyModel } from '../fixtures/gallery.js';

export const IDENTITIES = ['ada', 'alan', 'barbara', 'donald', 'edsger', 'grace'] as const;
export const IMAGES_PER_IDENTITY = 3;
const SIZE = 56;

/**
 * A grey PNG of identity `identity`'s shape (a disc whose place, size and contrast come from
 * the identity) drawn with per-image noise, so images of one identity differ slightly.
 *
 * @example
 * const png = await identityPng(2, 0); // barbara's first image
 */
export async function identityPng(identity: number, variant: number): Promise<Buffer> {
  const shape = createRng(1000 + identity);
  const noise = createRng(identity * 7919 + variant + 1);
  const cx = 8 + shape.next() * (SIZE - 16);
  const cy = 8 + shape.next() * (SIZE - 16);
  const r = 6 + shape.next() * 14;
  const base = Math.floor(shape.next() * 60);
  const pixels = Buffer.alloc(SIZE * SIZE);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const inside = Math.hypot(x - cx, y - cy) < r;
      pixels[y * SIZE + x] = Math.min(255, base + (inside ? 170 : 0) + Math.floor(noise.next() * 24));
    }
  }
  return sharp(pixels, { raw: { width: SIZE, height: SIZE, channels: 1 } }).png().toBuffer();
}

export interface GalleryImage {
  identity: string;
  file: string;
  bytes: Buffer;
}

export interface ImagePair {
  a: GalleryImage;
  b: GalleryImage;
  /** Distance measured by the test's own embedder. */
  distance: number;
}

export interface ServingFixture {
  modelDir: string;
  galleryDir: string;
  indexDir: string;
  card: ModelCard;
  /** The index version the build wrote (what `/v1/index` and search responses must report). */
  indexVersion: string;
  images: GalleryImage[];
  /** The gallery image farthest from every other identity: searching it must find its own identity. */
  query: GalleryImage;
  /** The closest pair of images of one identity, and the farthest pair of two identities. */
  samePair: ImagePair;
  differentPair: ImagePair;
}

/**
 * Writes the model, gallery and index under `dir` and measures the gallery's distances.
 *
 * @example
 * const fx = await buildServingFixture('/tmp/e2e-xyz');
 * fx.samePair.distance <= fx.card.thresholds.default // true (checked by the test)
 */
export async function buildServingFixture(dir: string): Promise<ServingFixture> {
  const modelDir = join(dir, 'model');
  const galleryDir = join(dir, 'gallery');
  const indexDir = join(dir, 'index');
  // An open-set calibration on too few people, as a small gallery gives: the demo must show its warning.
  const openSet = { threshold: 1, fpir: 0, tir: 1, targetFpir: 0.01, galleryIdentities: 2, knownProbes: 3, strangers: 9, strangerIdentities: 3, warning: 'too little calibration data for the match threshold: 9 stranger images' };
  const card = await writeTinyModel(modelDir, { seed: 1, embeddingSize: 8, openSet });

  const images: GalleryImage[] = [];
  for (const [i, identity] of IDENTITIES.entries()) {
    await mkdir(join(galleryDir, identity), { recursive: true });
    for (let j = 0; j < IMAGES_PER_IDENTITY; j++) {
      const file = join(galleryDir, identity, `${j + 1}.png`);
      const bytes = await identityPng(i, j);
      await writeFile(file, bytes);
      images.push({ identity, file, bytes });
    }
  }

  const embedder = await openEmbedder(modelDir, { backend: 'wasm' });
  try {
    const summary = await runIndex({ indexDir, store: new GalleryStore(galleryDir), embedder, mode: 'build' });
    const { vectors, failed } = await embedder.embedAll(images.map((img) => img.bytes));
    if (failed.length > 0) throw new Error(`fixture: ${failed.length} gallery images could not be embedded`);
    const dim = embedder.recipe.dim;
    const distance = (i: number, j: number): number => {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += (vectors[i * dim + d] - vectors[j * dim + d]) ** 2;
      return Math.sqrt(sum);
    };

    let samePair: ImagePair | null = null;
    let differentPair: ImagePair | null = null;
    const nearestOther = images.map(() => Infinity);
    for (let i = 0; i < images.length; i++) {
      for (let j = i + 1; j < images.length; j++) {
        const d = distance(i, j);
        if (images[i].identity === images[j].identity) {
          if (!samePair || d < samePair.distance) samePair = { a: images[i], b: images[j], distance: d };
        } else {
          if (!differentPair || d > differentPair.distance) differentPair = { a: images[i], b: images[j], distance: d };
          nearestOther[i] = Math.min(nearestOther[i], d);
          nearestOther[j] = Math.min(nearestOther[j], d);
        }
      }
    }
    const best = nearestOther.indexOf(Math.max(...nearestOther));
    if (!samePair || !differentPair) throw new Error('fixture: the gallery needs two identities with two images each');
    return { modelDir, galleryDir, indexDir, card, indexVersion: summary.version, images, query: images[best], samePair, differentPair };
  } finally {
    await embedder.close();
  }
}
