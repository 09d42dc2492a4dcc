import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'twinsearch-atomic-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('writes text, bytes and ArrayBuffers, leaving no temp file behind', async () => {
    await writeFileAtomic(join(dir, 'a.txt'), 'hello');
    await writeFileAtomic(join(dir, 'b.bin'), new Uint8Array([1, 2, 3]));
    await writeFileAtomic(join(dir, 'c.bin'), new Float32Array([1.5]).buffer);
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('hello');
    expect([...(await readFile(join(dir, 'b.bin')))]).toEqual([1, 2, 3]);
    expect(new Float32Array(new Uint8Array(await readFile(join(dir, 'c.bin'))).buffer)[0]).toBe(1.5);
    expect((await readdir(dir)).sort()).toEqual(['a.txt', 'b.bin', 'c.bin']);
  });

  it('replaces an existing file', async () => {
    const path = join(dir, 'card.json');
    await writeFile(path, 'old contents that are longer');
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['card.json']);
  });

  it('ends with one complete version when writes race', async () => {
    const path = join(dir, 'race.txt');
    const versions = Array.from({ length: 8 }, (_, i) => String(i).repeat(10_000));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    expect(versions).toContain(await readFile(path, 'utf8'));
    expect(await readdir(dir)).toEqual(['race.txt']);
  });

  it('leaves the target untouched and cleans up when the rename fails', async () => {
    // A non-empty directory in the way makes rename fail after the temp file was written.
    const target = join(dir, 'blocked');
    await mkdir(target);
    await writeFile(join(target, 'keep.txt'), 'kept');
    await expect(writeFileAtomic(target, 'data')).rejects.toThrow();
    expect(await readFile(join(target, 'keep.txt'), 'utf8')).toBe('kept');
    expect(await readdir(dir)).toEqual(['blocked']);
  });

  it('fails when the directory does not exist', async () => {
    await expect(writeFileAtomic(join(dir, 'missing', 'x.txt'), 'data')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
