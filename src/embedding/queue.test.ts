import { describe, expect, it } from 'vitest';
import { batchQueue, passQueue } from './queue.js';
import { manualRunner } from '../../test/fixtures/runners.js';

const image = (v: number) => new Float32Array([v, 0, 0]);
/** Submits one image per value (3 floats each) and resolves the output rows. */
async function submit(queue: ReturnType<typeof batchQueue>, ...values: number[]): Promise<number[][]> {
  const data = new Float32Array(values.length * 3);
  values.forEach((v, i) => data.set(image(v), i * 3));
  const out = await queue.submit(data, values.length);
  return Array.from({ length: out.length / 2 }, (_, i) => Array.from(out.subarray(i * 2, i * 2 + 2)));
}
const tick = () => new Promise((r) => setImmediate(r));

describe('batchQueue', () => {
  it('runs a lone request at once, and batches what queues while the slot is busy', async () => {
    const { runner, calls } = manualRunner();
    const e = batchQueue(runner, { dim: 2, imageFloats: 3, maxBatch: 4 });
    const first = submit(e, 1);
    await tick();
    expect(calls.map((c) => c.count)).toEqual([1]);
    const second = submit(e, 2);
    const third = submit(e, 3, 4);
    const fourth = submit(e, 5, 6); // would make 5 > maxBatch: next pass
    await tick();
    expect(calls.map((c) => c.count)).toEqual([1]);
    calls[0].finish();
    expect((await first)).toEqual([[1, 1]]);
    await tick();
    expect(calls.map((c) => c.count)).toEqual([1, 3]);
    calls[1].finish();
    expect((await second)).toEqual([[2, 3]]);
    expect((await third)).toEqual([[3, 3], [4, 3]]);
    await tick();
    calls[2].finish();
    expect((await fourth)).toEqual([[5, 2], [6, 2]]);
    expect(e.stats()).toMatchObject({ passes: 3, images: 6, largestPass: 3, queued: 0 });
  });

  it('keeps one pass per slot in flight', async () => {
    const { runner, calls } = manualRunner(2);
    const e = batchQueue(runner, { dim: 2, imageFloats: 3 });
    const all = [1, 2, 3].map((v) => submit(e, v));
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
    const e = batchQueue(runner, { dim: 2, imageFloats: 3 });
    const a = submit(e, 1);
    await tick();
    const b = submit(e, 2);
    const c = submit(e, 3);
    calls[0].fail(new Error('boom'));
    await expect(a).rejects.toThrow('boom');
    await tick();
    calls[1].fail(new Error('boom 2'));
    await expect(b).rejects.toThrow('boom 2');
    await expect(c).rejects.toThrow('boom 2');
    const d = submit(e, 4);
    await tick();
    calls[2].finish();
    expect((await d)[0][0]).toBe(4);
  });

  it('refuses wrong-sized inputs and work after close', async () => {
    const { runner } = manualRunner();
    const e = batchQueue(runner, { dim: 2, imageFloats: 3 });
    await expect(e.submit(new Float32Array(2), 1)).rejects.toThrow(RangeError);
    expect(await e.submit(new Float32Array(0), 0)).toEqual(new Float32Array(0));
    await e.close();
    await expect(submit(e, 1)).rejects.toThrow(/closed/);
  });
});

describe('passQueue', () => {
  it('merges queued jobs of any kind into one pass and gives each job its own answer', async () => {
    const passes: string[][] = [];
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const queue = passQueue<string[], string>({
      slots: () => 1,
      size: (job) => job.length,
      maxImages: 8,
      run: async (jobs) => {
        passes.push(jobs.flat());
        await gate;
        return jobs.map((job) => job.join('+'));
      },
      emptyAnswer: () => '',
      close: async () => undefined,
    });
    const first = queue.submit(['a']);
    const rest = [queue.submit(['b', 'c']), queue.submit([]), queue.submit(['d'])];
    await tick();
    release();
    expect(await first).toBe('a');
    expect(await Promise.all(rest)).toEqual(['b+c', '', 'd']);
    expect(passes).toEqual([['a'], ['b', 'c', 'd']]);
    expect(queue.stats()).toMatchObject({ passes: 2, images: 4, largestPass: 3, queued: 0 });
  });

  it('fails every job of a pass that answers the wrong number of jobs', async () => {
    const queue = passQueue<number, number>({
      slots: () => 1,
      size: () => 1,
      maxImages: 8,
      run: async (jobs) => jobs.slice(1),
      emptyAnswer: () => 0,
      close: async () => undefined,
    });
    await expect(queue.submit(1)).rejects.toThrow(/answered 0 jobs of 1/);
  });
});
