import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { l2NormalizeVector } from '../model/embed.js';
import { syntheticPng, TINY_PREPROCESS, writeTinyModel } from '../../test/fixtures/gallery.js';
import { createEmbedder } from './embedder.js';
import { openEmbedder } from './open.js';
import type { EmbeddingRecipe } from './recipe.js';
import type { Runner } from './runner.js';

const recipe: EmbeddingRecipe = { modelId: 'fake', weightsHash: 'h', dim: 2, metric: 'l2', normalized: false, preprocess: { ...TINY_PREPROCESS, width: 2, height: 2 }, settings: { l2Normalize: false } };

/** A runner whose "embedding" is (sum of pixels, count), finishing chunks in reverse order. */
function fakeRunner(slots: number): Runner & { calls: number[] } {
  const calls: number[] = [];
  return {
    slots,
    calls,
    async run(data, count) {
      calls.push(count);
      await new Promise((r) => setTimeout(r, 30 - calls.length * 5));
      const out = new Float32Array(count * 2);
      for (let i = 0; i < count; i++) {
        let sum = 0;
        for (let j = 0; j < 4; j++) sum += data[i * 4 + j];
        out.set([sum, count], i * 2);
      }
      return out;
    },
    async close() {},
  };
}

describe('createEmbedder', () => {
  it('keeps input order across chunks finishing out of order, and reports unreadable inputs', async () => {
    const images = await Promise.all([1, 2, 3, 4, 5].map((s) => syntheticPng(s, 2)));
    const inputs: (Uint8Array | string)[] = [...images.slice(0, 2), Buffer.from('garbage'), ...images.slice(2), '/no/such/file.png'];
    const runner = fakeRunner(2);
    const progress: number[] = [];
    const embedder = createEmbedder(recipe, runner, { chunkSize: 2 });
    const { vectors, failed } = await embedder.embedAll(inputs, { onProgress: (done) => progress.push(done) });
    expect(runner.calls).toEqual([2, 2, 2, 1]);
    expect(failed.map((f) => f.index)).toEqual([2, 6]);
    expect(failed[1].reason).toMatch(/ENOENT/);
    expect(progress.at(-1)).toBe(7);
    // Each row is its own image's pixel sum: compare with embedding one at a time.
    for (const [i, input] of inputs.entries()) {
      if (i === 2 || i === 6) {
        expect([...vectors.subarray(i * 2, i * 2 + 2)]).toEqual([0, 0]);
        continue;
      }
      const single = await createEmbedder(recipe, fakeRunner(1)).embedAll([input]);
      expect(vectors[i * 2]).toBeCloseTo(single.vectors[0], 5);
    }
  });

  it('embeds prepared images through the same runner, one vector per input, and refuses a wrong-sized input', async () => {
    const embedder = createEmbedder(recipe, fakeRunner(1));
    const a = await embedder.prepare(await syntheticPng(1, 2));
    const b = await embedder.prepare(await syntheticPng(2, 2));
    const [va, vb] = await embedder.embed([a, b]);
    const { vectors } = await embedder.embedAll([await syntheticPng(1, 2), await syntheticPng(2, 2)]);
    expect(va[0]).toBeCloseTo(vectors[0], 5);
    expect(vb[0]).toBeCloseTo(vectors[2], 5);
    await expect(embedder.embed([new Float32Array(3)])).rejects.toThrow(RangeError);
    await embedder.close();
    await expect(embedder.embed([a])).rejects.toThrow(/closed/);
  });
});

describe('openEmbedder', () => {
  it('gives the same vectors in worker threads as in this thread', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'embedder-'));
    const card = await writeTinyModel(join(dir, 'model'), { seed: 5 });
    const images = await Promise.all(Array.from({ length: 20 }, (_, i) => syntheticPng(100 + i)));
    const inline = await openEmbedder(join(dir, 'model'), { backend: 'wasm' });
    const workers = await openEmbedder(join(dir, 'model'), { backend: 'wasm', workers: 2, chunkSize: 6 });
    try {
      expect(workers.recipe.modelId).toBe(card.modelId);
      expect(workers.recipe.dim).toBe(8);
      const a = await inline.embedAll(images);
      const b = await workers.embedAll(images);
      expect(b.failed).toEqual([]);
      expect(b.vectors.length).toBe(20 * 8);
      for (let i = 0; i < a.vectors.length; i++) expect(b.vectors[i]).toBeCloseTo(a.vectors[i], 5);
      // Unit rows (the card says l2Normalize).
      const row = a.vectors.subarray(0, 8);
      expect(Math.hypot(...row)).toBeCloseTo(1, 5);
    } finally {
      await inline.close();
      await workers.close();
    }
  });

  it("embeds like the card says: with tower.flipAverage an image and its mirror get one vector, in this thread and in workers", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'embedder-flip-'));
    await writeTinyModel(join(dir, 'flip'), { seed: 5, flipAverage: true });
    await writeTinyModel(join(dir, 'plain'), { seed: 5 });
    const images = await Promise.all([7, 8, 9].map((s) => syntheticPng(s)));
    const mirrored = await Promise.all(images.map((png) => sharp(png).flop().png().toBuffer()));
    const embedders = await Promise.all([
      openEmbedder(join(dir, 'flip'), { backend: 'wasm' }),
      openEmbedder(join(dir, 'flip'), { backend: 'wasm', workers: 1 }),
      openEmbedder(join(dir, 'plain'), { backend: 'wasm' }),
    ]);
    try {
      const gap = (a: Float32Array, b: Float32Array) => Math.max(...a.map((v, i) => Math.abs(v - b[i]!)));
      for (const embedder of embedders.slice(0, 2)) {
        const own = await embedder.embedAll(images);
        const ofMirror = await embedder.embedAll(mirrored);
        expect(gap(own.vectors, ofMirror.vectors)).toBeLessThan(1e-5);
      }
      // Same weights without the flag: the mirror embeds elsewhere (the test images are not symmetric).
      const plain = embedders[2]!;
      expect(gap((await plain.embedAll(images)).vectors, (await plain.embedAll(mirrored)).vectors)).toBeGreaterThan(1e-3);
    } finally {
      await Promise.all(embedders.map((e) => e.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('embeds like the card says: with tower.center each vector is the plain one minus the centre, normalised, in this thread and in workers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'embedder-center-'));
    const center = [0.3, -0.2, 0.1, 0, 0.25, -0.1, 0.05, 0.2];
    await writeTinyModel(join(dir, 'centred'), { seed: 5, center });
    await writeTinyModel(join(dir, 'plain'), { seed: 5 });
    const images = await Promise.all([7, 8, 9].map((s) => syntheticPng(s)));
    const embedders = await Promise.all([
      openEmbedder(join(dir, 'centred'), { backend: 'wasm' }),
      openEmbedder(join(dir, 'centred'), { backend: 'wasm', workers: 1 }),
      openEmbedder(join(dir, 'plain'), { backend: 'wasm' }),
    ]);
    try {
      const plain = (await embedders[2]!.embedAll(images)).vectors;
      const expected = new Float32Array(plain.length);
      for (let r = 0; r < images.length; r++) expected.set(l2NormalizeVector(plain.subarray(r * 8, r * 8 + 8).map((v, j) => v - center[j]!)), r * 8);
      for (const embedder of embedders.slice(0, 2)) {
        const { vectors } = await embedder.embedAll(images);
        expect(Array.from(vectors)).toEqual(Array.from(expected, (v) => expect.closeTo(v, 5)));
      }
    } finally {
      await Promise.all(embedders.map((e) => e.close()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('createEmbedder decode limit', () => {
  it('leaves out images over limitInputPixels in embedAll, with the limit in the reason', async () => {
    const small = await syntheticPng(1, 2);
    const big = await syntheticPng(2, 40); // 1,600 pixels
    const embedder = createEmbedder(recipe, fakeRunner(1), { limitInputPixels: 1000 });
    const { failed } = await embedder.embedAll([small, big]);
    expect(failed.map((f) => f.index)).toEqual([1]);
    expect(failed[0]).toMatchObject({ code: 'IMAGE_TOO_LARGE', width: 40, height: 40 });
    expect(failed[0].reason).toMatch(/more than the limit of 1000\b/);
    expect((await createEmbedder(recipe, fakeRunner(1)).embedAll([small, big])).failed).toEqual([]);
  });
});
