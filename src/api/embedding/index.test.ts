import { describe, expect, it } from 'vitest';
import type { ChunkRunner } from '../../index/embedder.js';
import { batchingEmbedder } from './index.js';

/** A runner whose passes finish when the test says so; each output row is [first input value, count]. */
function manualRunner(slots = 1) {
  const calls: { count: number; finish: () => void; fail: (e: Error) => void }[] = [];
  const runner: ChunkRunner = {
    slots,
    run(data, count) {
      return new Promise((resolve, reject) => {
        const out = new Float32Array(count * 2);
        for (let i = 0; i < count; i++) out.set([data[i * 3], count], i * 2);
        calls.push({ count, finish: () => resolve(out), fail: reject });
      });
    },
    close: async () => {},
  };
  return { runner, calls };
}
const image = (v: number) => new Float32Array([v, 0, 0]);
const tick = () => new Promise((r) => setImmediate(r));

describe('batchingEmbedder', () => {
  it('runs a lone request at once, and batches what queues while the slot is busy', async () => {
    const { runner, calls } = manualRunner();
    const e = batchingEmbedder(runner, { dim: 2, imageSize: 3, maxBatch: 4 });
    const first = e.embed([image(1)]);
    await tick();
    expect(calls.map((c) => c.count)).toEqual([1]);
    const second = e.embed([image(2)]);
    const third = e.embed([image(3), image(4)]);
    const fourth = e.embed([image(5), image(6)]); // would make 5 > maxBatch: next pass
    await tick();
    expect(calls.map((c) => c.count)).toEqual([1]);
    calls[0].finish();
    expect((await first).map((v) => Array.from(v))).toEqual([[1, 1]]);
    await tick();
    expect(calls.map((c) => c.count)).toEqual([1, 3]);
    calls[1].finish();
    expect((await second).map((v) => Array.from(v))).toEqual([[2, 3]]);
    expect((await third).map((v) => Array.from(v))).toEqual([[3, 3], [4, 3]]);
    await tick();
    calls[2].finish();
    expect((await fourth).map((v) => Array.from(v))).toEqual([[5, 2], [6, 2]]);
    expect(e.stats()).toMatchObject({ passes: 3, images: 6, largestPass: 3, queued: 0 });
  });

  it('keeps one pass per slot in flight', async () => {
    const { runner, calls } = manualRunner(2);
    const e = batchingEmbedder(runner, { dim: 2, imageSize: 3 });
    const all = [1, 2, 3].map((v) => e.embed([image(v)]));
    await tick();
    expect(calls.map((c) => c.count)).toEqual([1, 1]);
    calls[1].finish();
    await tick();
    expect(calls.map((c) => c.count)).toEqual([1, 1, 1]);
    calls[0].finish();
    calls[2].finish();
    expect((await Promise.all(all)).map(([v]) => v[0])).toEqual([1, 2, 3]);
  });

  it('fails every request of a failed pass, and keeps serving afterwards', async () => {
    const { runner, calls } = manualRunner();
    const e = batchingEmbedder(runner, { dim: 2, imageSize: 3 });
    const a = e.embed([image(1)]);
    await tick();
    const b = e.embed([image(2)]);
    const c = e.embed([image(3)]);
    calls[0].fail(new Error('boom'));
    await expect(a).rejects.toThrow('boom');
    await tick();
    calls[1].fail(new Error('boom 2'));
    await expect(b).rejects.toThrow('boom 2');
    await expect(c).rejects.toThrow('boom 2');
    const d = e.embed([image(4)]);
    await tick();
    calls[2].finish();
    expect((await d)[0][0]).toBe(4);
  });

  it('refuses wrong-sized inputs and work after close', async () => {
    const { runner } = manualRunner();
    const e = batchingEmbedder(runner, { dim: 2, imageSize: 3 });
    await expect(e.embed([new Float32Array(2)])).rejects.toThrow(RangeError);
    expect(await e.embed([])).toEqual([]);
    await e.close();
    await expect(e.embed([image(1)])).rejects.toThrow(/closed/);
  });
});
