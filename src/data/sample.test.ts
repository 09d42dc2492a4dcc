import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGallery } from './gallery.js';
import { ensureSampleGallery, SAMPLE_MARKER } from './sample.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'twinsearch-sample-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('ensureSampleGallery', () => {
  it('writes 10 digit identities of 28x28 grey PNGs that match the mnist package', async () => {
    const dir = join(tmp, 'sample');
    const result = await ensureSampleGallery(dir, { perIdentity: 3 });
    expect(result).toEqual({ dir, created: true, identities: 10, images: 30 });

    const gallery = await readGallery(dir);
    expect(gallery.identities.map((i) => i.name)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(gallery.identities[7].files.map((f) => f.slice(dir.length + 1))).toEqual(['7/0000.png', '7/0001.png', '7/0002.png']);

    const png = join(dir, '7/0001.png');
    const meta = await sharp(png).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['png', 28, 28, 1]);
    const data = await sharp(png).extractChannel(0).raw().toBuffer();
    const digits = JSON.parse(await readFile(createRequire(import.meta.url).resolve('mnist/src/digits/7.json'), 'utf8')) as { data: number[] };
    const expected = digits.data.slice(784, 2 * 784).map((v) => Math.round(v * 255));
    expect(Array.from(data)).toEqual(expected);
    // White digit on black: the corner is background.
    expect(data[0]).toBe(0);
    expect(Math.max(...data)).toBeGreaterThan(200);
    // Nothing left over beside it.
    expect((await readdir(tmp)).filter((name) => name.includes('.tmp-'))).toEqual([]);
  });

  it('does nothing when a complete sample is already there', async () => {
    const dir = join(tmp, 'again');
    await ensureSampleGallery(dir, { perIdentity: 2 });
    const before = (await stat(join(dir, SAMPLE_MARKER))).mtimeMs;
    const result = await ensureSampleGallery(dir, { perIdentity: 5 });
    expect(result).toEqual({ dir, created: false, identities: 10, images: 20 });
    expect((await stat(join(dir, SAMPLE_MARKER))).mtimeMs).toBe(before);
    expect(await readdir(join(dir, '3'))).toHaveLength(2);
  });

  it('fills an existing empty folder but refuses a non-empty one without its marker', async () => {
    const empty = join(tmp, 'empty');
    await mkdir(empty);
    expect((await ensureSampleGallery(empty, { perIdentity: 1 })).created).toBe(true);

    const foreign = join(tmp, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'keep.txt'), 'mine');
    await expect(ensureSampleGallery(foreign, { perIdentity: 1 })).rejects.toThrow(/not a sample gallery/);
    expect(await readdir(foreign)).toEqual(['keep.txt']);
  });

  it('rejects a bad perIdentity', async () => {
    await expect(ensureSampleGallery(join(tmp, 'bad'), { perIdentity: 0 })).rejects.toThrow(RangeError);
  });
});
