import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pipelineEmbedder, type ChunkRunner, type ModelMeta } from './embedder.js';
import { openModelEmbedder } from './model-embedder.js';
import { syntheticPng, TINY_PREPROCESS, writeTinyModel } from './testing.js';

const meta: ModelMeta = { modelId: 'fake', weightsHash: 'h', dim: 2, metric: 'l2', l2Normalize: false, preprocess: { ...TINY_PREPROCESS, width: 2, height: 2 } };

/** A runner whose "embedding" is (sum of pixels, count), finishing chunks in reverse order. */
function fakeRunner(slots: number): ChunkRunner & { calls: number[] } {
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

describe('pipelineEmbedder', () => {
  it('keeps input order across chunks finishing out of order, and reports unreadable inputs', async () => {
    const images = await Promise.all([1, 2, 3, 4, 5].map((s) => syntheticPng(s, 2)));
    const inputs: (Uint8Array | string)[] = [...images.slice(0, 2), Buffer.from('garbage'), ...images.slice(2), '/no/such/file.png'];
    const runner = fakeRunner(2);
    const progress: number[] = [];
    const embedder = pipelineEmbedder(meta, runner, { chunkSize: 2 });
    const { vectors, failed } = await embedder.embed(inputs, { onProgress: (done) => progress.push(done) });
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
      const single = await pipelineEmbedder(meta, fakeRunner(1)).embed([input]);
      expect(vectors[i * 2]).toBeCloseTo(single.vectors[0], 5);
    }
  });

  it('normalises for cosine models', () => {
    expect(pipelineEmbedder({ ...meta, metric: 'cosine' }, fakeRunner(1)).normalized).toBe(true);
    expect(pipelineEmbedder(meta, fakeRunner(1)).normalized).toBe(false);
  });
});

describe('openModelEmbedder', () => {
  it('gives the same vectors in worker threads as in this thread', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'embedder-'));
    const card = await writeTinyModel(join(dir, 'model'), { seed: 5 });
    const images = await Promise.all(Array.from({ length: 20 }, (_, i) => syntheticPng(100 + i)));
    const inline = await openModelEmbedder(join(dir, 'model'), { backend: 'wasm' });
    const workers = await openModelEmbedder(join(dir, 'model'), { backend: 'wasm', workers: 2, chunkSize: 6 });
    try {
      expect(workers.modelId).toBe(card.modelId);
      expect(workers.dim).toBe(8);
      const a = await inline.embed(images);
      const b = await workers.embed(images);
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
});
