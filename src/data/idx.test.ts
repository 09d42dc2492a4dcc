import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseIdx, readIdx, readIdxDataset } from './idx.js';

/** Builds IDX bytes: big-endian u32 header fields, then the data. */
const idx = (header: number[], data: number[]): Buffer => {
  const head = Buffer.alloc(header.length * 4);
  header.forEach((v, i) => head.writeUInt32BE(v, i * 4));
  return Buffer.concat([head, Buffer.from(data)]);
};

// Three 2x3 images and their labels.
const pixels = Array.from({ length: 18 }, (_, i) => i * 10);
const imageBytes = idx([2051, 3, 2, 3], pixels);
const labelBytes = idx([2049, 3], [7, 0, 9]);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinsearch-idx-'));
  await writeFile(join(dir, 'images.gz'), gzipSync(imageBytes));
  await writeFile(join(dir, 'labels.gz'), gzipSync(labelBytes));
  await writeFile(join(dir, 'labels-plain'), labelBytes);
  await writeFile(join(dir, 'short-labels.gz'), gzipSync(idx([2049, 2], [1, 2])));
  await writeFile(join(dir, 'broken.gz'), gzipSync(imageBytes).subarray(0, 20));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readIdx', () => {
  it('reads gzipped image files', async () => {
    const file = await readIdx(join(dir, 'images.gz'));
    expect(file).toEqual({ kind: 'images', images: Uint8Array.from(pixels), count: 3, rows: 2, cols: 3 });
  });

  it('reads gzipped and plain label files', async () => {
    expect(await readIdx(join(dir, 'labels.gz'))).toEqual({ kind: 'labels', labels: Uint8Array.of(7, 0, 9), count: 3 });
    expect(await readIdx(join(dir, 'labels-plain'))).toEqual({ kind: 'labels', labels: Uint8Array.of(7, 0, 9), count: 3 });
  });

  it('rejects bad magic, wrong sizes and corrupt gzip with the file name', async () => {
    expect(() => parseIdx(idx([2052, 1], [0]), 'x.idx')).toThrow(/x\.idx: magic number 2052/);
    expect(() => parseIdx(idx([2051, 2, 2, 2], [1, 2, 3]))).toThrow(/2 images of 2x2 need 24 bytes, file has 19/);
    expect(() => parseIdx(Uint8Array.of(0, 0, 8))).toThrow(/too short/);
    await expect(readIdx(join(dir, 'broken.gz'))).rejects.toThrow(/broken\.gz: corrupt gzip/);
  });
});

describe('readIdxDataset', () => {
  it('pairs images with labels', async () => {
    const data = await readIdxDataset(join(dir, 'images.gz'), join(dir, 'labels.gz'));
    expect(data.count).toBe(3);
    expect([data.rows, data.cols]).toEqual([2, 3]);
    expect(Array.from(data.labels)).toEqual([7, 0, 9]);
    expect(Array.from(data.images.subarray(6, 12))).toEqual(pixels.slice(6, 12));
  });

  it('rejects swapped files and mismatched counts', async () => {
    await expect(readIdxDataset(join(dir, 'labels.gz'), join(dir, 'labels.gz'))).rejects.toThrow(/holds labels, not images/);
    await expect(readIdxDataset(join(dir, 'images.gz'), join(dir, 'short-labels.gz'))).rejects.toThrow(/3 images but .* 2 labels/);
  });
});
