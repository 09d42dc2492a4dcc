import { describe, expect, it } from 'vitest';
import type { ChunkRunner } from '../../index/embedder.js';
import { batchingEmbedder, handoffRunner } from './index.js';

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

describe('handoffRunner', () => {
  it('serves with the stand-in until the successor is ready, then only with the successor', async () => {
    const standIn = manualRunner();
    const successor = manualRunner(2);
    let ready!: (r: ChunkRunner) => void;
    let handoffs = 0;
    const runner = handoffRunner(standIn.runner, new Promise<ChunkRunner>((r) => (ready = r)), { onHandoff: () => handoffs++ });
    expect(runner.slots).toBe(1);
    const early = runner.run(new Float32Array([7, 0, 0]), 1);
    await tick();
    expect(standIn.calls).toHaveLength(1);
    ready(successor.runner);
    await tick();
    // The stand-in still has a pass running: the hand-off (freeing its model) waits for it.
    expect(handoffs).toBe(0);
    expect(runner.slots).toBe(2);
    const late = runner.run(new Float32Array([8, 0, 0]), 1);
    await tick();
    expect(successor.calls).toHaveLength(1);
    expect(standIn.calls).toHaveLength(1);
    standIn.calls[0].finish();
    expect(Array.from(await early)).toEqual([7, 1]);
    expect(handoffs).toBe(1);
    successor.calls[0].finish();
    expect(Array.from(await late)).toEqual([8, 1]);
    await runner.close();
    expect(handoffs).toBe(1);
  });

  it('keeps serving with the stand-in when the successor fails to start', async () => {
    const standIn = manualRunner();
    const failures: string[] = [];
    let handoffs = 0;
    const runner = handoffRunner(standIn.runner, Promise.reject(new Error('no worker')), { onHandoff: () => handoffs++, onSuccessorFailed: (e) => failures.push(e.message) });
    await tick();
    expect(failures).toEqual(['no worker']);
    const out = runner.run(new Float32Array([3, 0, 0]), 1);
    await tick();
    standIn.calls[0].finish();
    expect(Array.from(await out)).toEqual([3, 1]);
    await runner.close();
    expect(handoffs).toBe(0);
  });
});
