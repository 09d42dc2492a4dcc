import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PREPROCESS, type PreprocessConfig } from '../model/config.js';
import { pngHeaderBomb } from '../../scripts/hostile/images.js';
import { GalleryError, galleryDigest, loadImages, readGallery } from './gallery.js';

const PRE: PreprocessConfig = { ...DEFAULT_PREPROCESS, width: 4, height: 4 };

/** A solid grey image whose value identifies it after decoding. */
const solid = (value: number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> => {
  const image = sharp({ create: { width: 8, height: 8, channels: 3, background: { r: value, g: value, b: value } } });
  return (format === 'png' ? image.png() : image.jpeg({ quality: 100 })).toBuffer();
};

async function put(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, bytes);
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GalleryError);
  return (error as GalleryError).code;
}

let tmp: string;
let root: string;
// Grey value of every image by relative path, to check what loadImages decoded where.
const values: Record<string, number> = {
  'b/2.png': 20,
  'b/1.png': 40,
  'b/10.png': 60,
  'a/x.jpg': 80,
  'a/y.JPEG': 100,
  'Latin/character03/p.png': 120,
  'Latin/character03/q.png': 140,
  'Latin/character01/r.png': 160,
};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'twinsearch-gallery-'));
  root = join(tmp, 'gallery');
  for (const [rel, value] of Object.entries(values)) {
    await put(join(root, rel), await solid(value, /\.jpe?g$/i.test(rel) ? 'jpeg' : 'png'));
  }
  await put(join(root, '.hidden/z.png'), await solid(0));
  await put(join(root, 'a/.dot.png'), await solid(0));
  await put(join(root, 'a/notes.txt'), 'not an image');
  await put(join(root, 'stray.png'), await solid(0));
  await mkdir(join(root, 'empty'), { recursive: true });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('readGallery', () => {
  it('names nested identities by relative path and sorts identities and files by bytes', async () => {
    const gallery = await readGallery(root);
    expect(gallery.root).toBe(root);
    expect(gallery.identities.map((i) => i.name)).toEqual(['Latin/character01', 'Latin/character03', 'a', 'b']);
    const b = gallery.identities.find((i) => i.name === 'b');
    expect(b?.files).toEqual([join(root, 'b/1.png'), join(root, 'b/10.png'), join(root, 'b/2.png')]);
    // Upper-case extensions count; hidden files, hidden folders and non-images do not.
    const a = gallery.identities.find((i) => i.name === 'a');
    expect(a?.files).toEqual([join(root, 'a/x.jpg'), join(root, 'a/y.JPEG')]);
    expect(gallery.identities.flatMap((i) => i.files).some((f) => f.includes('.hidden') || f.includes('.dot'))).toBe(false);
  });

  it('warns about 1-image identities and stray images in the root', async () => {
    const { warnings } = await readGallery(root);
    expect(warnings).toContain('identity Latin/character01 has 1 image: usable as a gallery entry, not for positive pairs');
    expect(warnings.some((w) => w.includes('directly in') && w.includes(root))).toBe(true);
    expect(warnings).toContain('1 file is not an image and was left out: a/notes.txt (images are .jpg, .jpeg, .png, .webp, .gif, .tif, .tiff, .avif)');
    expect(warnings).toHaveLength(3);
  });

  it('names the files that are not images in one line, hidden files aside', async () => {
    const dir = join(tmp, 'with-non-images');
    await put(join(dir, 'p/1.png'), await solid(10));
    await put(join(dir, 'q/1.png'), await solid(20));
    await put(join(dir, 'p/notes.txt'), 'notes');
    await put(join(dir, 'q/a.csv'), 'a,b');
    await put(join(dir, 'q/Thumbs.db'), 'thumbs');
    await put(join(dir, 'q/.DS_Store'), 'hidden: not counted');
    const gallery = await readGallery(dir);
    expect(gallery.nonImages).toEqual(['p/notes.txt', 'q/Thumbs.db', 'q/a.csv']);
    const lines = gallery.warnings.filter((w) => w.includes('not images'));
    expect(lines).toEqual(['3 files are not images and were left out: p/notes.txt, q/Thumbs.db, q/a.csv (images are .jpg, .jpeg, .png, .webp, .gif, .tif, .tiff, .avif)']);
  });

  it('caps the names of non-image files at 20', async () => {
    const dir = join(tmp, 'many-non-images');
    await put(join(dir, 'p/1.png'), await solid(10));
    await put(join(dir, 'q/1.png'), await solid(20));
    for (let i = 0; i < 23; i++) await put(join(dir, `p/n${String(i).padStart(2, '0')}.txt`), 'x');
    const gallery = await readGallery(dir);
    expect(gallery.nonImages).toHaveLength(23);
    const line = gallery.warnings.find((w) => w.includes('not images')) ?? '';
    expect(line).toMatch(/^23 files are not images and were left out: p\/n00\.txt, .*, p\/n19\.txt and 3 more \(images are/);
    expect(line).not.toContain('n20.txt');
  });

  it('honours a custom extension list', async () => {
    const gallery = await readGallery(root, { extensions: ['.JPG', 'jpeg'], minIdentities: 1 });
    expect(gallery.identities.map((i) => i.name)).toEqual(['a']);
    expect(gallery.identities[0].files).toHaveLength(2);
  });

  it('follows symlinked folders once', async () => {
    const linked = join(tmp, 'linked');
    await put(join(linked, 'own/1.png'), await solid(1));
    await put(join(linked, 'own/2.png'), await solid(2));
    await symlink(join(root, 'b'), join(linked, 'viaLink'));
    await symlink(linked, join(linked, 'own/loop'));
    const gallery = await readGallery(linked);
    expect(gallery.identities.map((i) => i.name)).toEqual(['own', 'viaLink']);
  });

  describe('errors', () => {
    it('GALLERY_NOT_FOUND names the path', async () => {
      const missing = join(tmp, 'nope');
      const error = await readGallery(missing).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'GALLERY_NOT_FOUND', path: missing });
      expect((error as Error).message).toContain(missing);
    });

    it('NOT_A_DIRECTORY for a file', async () => {
      expect(await codeOf(readGallery(join(root, 'a/notes.txt')))).toBe('NOT_A_DIRECTORY');
    });

    it('NO_IMAGES when no folder holds an image', async () => {
      const dir = join(tmp, 'no-images');
      await put(join(dir, 'x/readme.txt'), 'hello');
      expect(await codeOf(readGallery(dir))).toBe('NO_IMAGES');
    });

    it('TOO_FEW_IDENTITIES below minIdentities (default 2)', async () => {
      const dir = join(tmp, 'one-identity');
      await put(join(dir, 'only/1.png'), await solid(10));
      await put(join(dir, 'only/2.png'), await solid(20));
      expect(await codeOf(readGallery(dir))).toBe('TOO_FEW_IDENTITIES');
      const gallery = await readGallery(dir, { minIdentities: 1 });
      expect(gallery.identities).toHaveLength(1);
      expect(await codeOf(readGallery(root, { minIdentities: 5 }))).toBe('TOO_FEW_IDENTITIES');
    });
  });
});

describe('loadImages', () => {
  it('decodes every image in gallery order with labels, files and shape', async () => {
    const gallery = await readGallery(root);
    const progress: number[] = [];
    const set = await loadImages(gallery, PRE, { onProgress: (done, total) => progress.push(done / total) });
    const order = ['Latin/character01/r.png', 'Latin/character03/p.png', 'Latin/character03/q.png', 'a/x.jpg', 'a/y.JPEG', 'b/1.png', 'b/10.png', 'b/2.png'];
    expect(set.count).toBe(8);
    expect(set.shape).toEqual([4, 4, 1]);
    expect(set.data).toHaveLength(8 * 16);
    expect(set.files).toEqual(order.map((rel) => join(root, rel)));
    expect(Array.from(set.labels)).toEqual([0, 1, 1, 2, 2, 3, 3, 3]);
    expect(set.identities).toEqual(['Latin/character01', 'Latin/character03', 'a', 'b']);
    expect(set.skipped).toEqual([]);
    order.forEach((rel, i) => {
      const image = set.data.subarray(i * 16, (i + 1) * 16);
      for (const v of image) expect(v * 255).toBeCloseTo(values[rel], -0.5);
    });
    expect(progress).toHaveLength(8);
    expect(progress.at(-1)).toBe(1);
  });

  it('gives identical results whatever the concurrency', async () => {
    const gallery = await readGallery(root);
    const serial = await loadImages(gallery, PRE, { concurrency: 1 });
    const parallel = await loadImages(gallery, PRE, { concurrency: 8 });
    expect(parallel.data).toEqual(serial.data);
    expect(parallel.files).toEqual(serial.files);
    expect(parallel.labels).toEqual(serial.labels);
  });

  it('can back the data with shared memory for worker threads', async () => {
    const gallery = await readGallery(root);
    const set = await loadImages(gallery, PRE, { sharedMemory: true });
    expect(set.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Array.from(set.data)).toEqual(Array.from((await loadImages(gallery, PRE)).data));
  });

  it('rejects a bad preprocess config before decoding anything', async () => {
    const gallery = await readGallery(root);
    await expect(loadImages(gallery, { ...PRE, width: 0 })).rejects.toThrow(RangeError);
  });

  describe('with a corrupt file', () => {
    let dir: string;
    beforeAll(async () => {
      dir = join(tmp, 'corrupt');
      await put(join(dir, 'p/1.png'), await solid(10));
      await put(join(dir, 'p/2.png'), (await solid(20)).subarray(0, 20));
      await put(join(dir, 'q/1.png'), await solid(30));
      await put(join(dir, 'q/2.png'), await solid(40));
    });

    it('fails by default with UNREADABLE_IMAGE naming the file', async () => {
      const gallery = await readGallery(dir);
      const error = await loadImages(gallery, PRE).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(GalleryError);
      expect(error).toMatchObject({ code: 'UNREADABLE_IMAGE', path: dir, failures: [{ file: join(dir, 'p/2.png'), code: 'CORRUPT_IMAGE' }] });
      expect((error as Error).message).toContain('p/2.png: CORRUPT_IMAGE, corrupt or truncated');
    });

    it('skips and records it with onUnreadable "skip"', async () => {
      const gallery = await readGallery(dir);
      const set = await loadImages(gallery, PRE, { onUnreadable: 'skip' });
      expect(set.count).toBe(3);
      expect(set.data).toHaveLength(3 * 16);
      expect(set.files).toEqual([join(dir, 'p/1.png'), join(dir, 'q/1.png'), join(dir, 'q/2.png')]);
      expect(Array.from(set.labels)).toEqual([0, 1, 1]);
      expect(set.skipped).toHaveLength(1);
      expect(set.skipped[0].file).toBe(join(dir, 'p/2.png'));
      expect(set.skipped[0].code).toBe('CORRUPT_IMAGE');
      expect(set.skipped[0].reason).toMatch(/corrupt|truncated/i);
      // The data after the gap belongs to the right images.
      expect(set.data[16] * 255).toBeCloseTo(30, -0.5);
      expect(set.data[32] * 255).toBeCloseTo(40, -0.5);
    });
  });

  describe('with many kinds of bad files', () => {
    let dir: string;
    let gallery: Awaited<ReturnType<typeof readGallery>>;
    beforeAll(async () => {
      dir = join(tmp, 'bad-files');
      await put(join(dir, 'p/1.png'), await solid(10));
      await put(join(dir, 'p/2.png'), await solid(20));
      await put(join(dir, 'p/corrupt.png'), (await solid(20)).subarray(0, 20));
      await put(join(dir, 'p/text.jpg'), 'this is text, not a JPEG');
      await put(join(dir, 'q/1.png'), await solid(30));
      await put(join(dir, 'q/bomb.png'), pngHeaderBomb(100_000, 100_000));
      await put(join(dir, 'q/empty.jpg'), new Uint8Array(0));
      await put(join(dir, 'q/gone.png'), await solid(40));
      gallery = await readGallery(dir);
      // Listed, then removed before it is read: the read fails with ENOENT.
      await unlink(join(dir, 'q/gone.png'));
    });

    it('decodes every image, then fails once listing every bad file with its code', async () => {
      let decoded = 0;
      const error = await loadImages(gallery, PRE, { onProgress: (done) => (decoded = done) }).catch((e: unknown) => e);
      expect(decoded).toBe(8);
      expect(error).toBeInstanceOf(GalleryError);
      const failures = (error as GalleryError).failures ?? [];
      expect(failures.map((f) => [f.file.slice(dir.length + 1), f.code])).toEqual([
        ['p/corrupt.png', 'CORRUPT_IMAGE'],
        ['p/text.jpg', 'UNSUPPORTED_IMAGE'],
        ['q/bomb.png', 'IMAGE_TOO_LARGE'],
        ['q/empty.jpg', 'EMPTY_IMAGE'],
        ['q/gone.png', 'UNREADABLE_FILE'],
      ]);
      expect(failures[2]).toMatchObject({ width: 100_000, height: 100_000 });
      const message = (error as Error).message;
      expect(message).toMatch(/^5 of 8 images in .*bad-files cannot be used:\n/);
      for (const name of ['p/corrupt.png: CORRUPT_IMAGE', 'p/text.jpg: UNSUPPORTED_IMAGE', 'q/empty.jpg: EMPTY_IMAGE', 'q/gone.png: UNREADABLE_FILE, cannot be read (ENOENT']) {
        expect(message).toContain(name);
      }
      expect(message).toContain('q/bomb.png: IMAGE_TOO_LARGE, 100000x100000 pixels, more than the limit of 40000000');
    });

    it('names the flags the caller gives: the one that raises the pixel limit and the one that skips', async () => {
      const flags = { maxInputPixels: '--max-input-pixels', skipUnreadable: '--skip-unreadable' };
      const message = await loadImages(gallery, PRE, { flags }).catch((e: Error) => e.message);
      expect(message).toContain('q/bomb.png: IMAGE_TOO_LARGE, 100000x100000 pixels, more than the limit of 40000000 (raise it with --max-input-pixels 10000000000)');
      expect(message).toMatch(/Fix or remove them, or leave them out with --skip-unreadable\.$/);
    });

    it('with onUnreadable "skip", leaves every bad file out and records each with its code', async () => {
      const set = await loadImages(gallery, PRE, { onUnreadable: 'skip' });
      expect(set.count).toBe(3);
      expect(set.skipped.map((s) => s.code)).toEqual(['CORRUPT_IMAGE', 'UNSUPPORTED_IMAGE', 'IMAGE_TOO_LARGE', 'EMPTY_IMAGE', 'UNREADABLE_FILE']);
    });

    it('lists at most 20 bad files, then says how many more', async () => {
      const many = join(tmp, 'many-bad');
      await put(join(many, 'p/1.png'), await solid(10));
      await put(join(many, 'q/1.png'), await solid(10));
      for (let i = 0; i < 25; i++) await put(join(many, `q/bad${String(i).padStart(2, '0')}.png`), 'not a png');
      const error = (await loadImages(await readGallery(many), PRE).catch((e: unknown) => e)) as GalleryError;
      expect(error.failures).toHaveLength(25);
      expect(error.message).toContain('q/bad19.png: UNSUPPORTED_IMAGE');
      expect(error.message).not.toContain('q/bad20.png');
      expect(error.message).toContain('… and 5 more');
    });
  });
});

describe('galleryDigest', () => {
  it('is a stable sha256 of paths and sizes that changes with the listing', async () => {
    const dir = join(tmp, 'digest');
    await put(join(dir, 'p/1.png'), await solid(10));
    await put(join(dir, 'q/1.png'), await solid(30));
    const first = await galleryDigest(await readGallery(dir));
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    expect(await galleryDigest(await readGallery(dir))).toBe(first);
    await put(join(dir, 'q/1.png'), Buffer.concat([await solid(30), Buffer.from('extra')]));
    const resized = await galleryDigest(await readGallery(dir));
    expect(resized).not.toBe(first);
    await put(join(dir, 'q/2.png'), await solid(40));
    expect(await galleryDigest(await readGallery(dir))).not.toBe(resized);
  });
});
