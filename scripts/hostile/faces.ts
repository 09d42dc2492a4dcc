/**
 * Hostile inputs for a face model: pictures that push the face stage (no face, 30 faces, a
 * 10-pixel face, a face cut by the border, greyscale, RGBA, CMYK JPEG, 4096x4096), each with the
 * answer docs/faces.md documents. Composites of AT&T faces made with sharp, deterministic for a
 * seed; the same `HostileCase` shape as scripts/hostile/corpus.ts, so `runCorpus` sends them.
 * test/hostile-faces.test.ts serves a face model and runs them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { createRng } from '../../src/data/rng.js';
import { busyBackground, encodeJpeg, gridPlacements, pasteFaces, type Placement } from '../../src/face/composite.js';
import type { RgbImage } from '../../src/face/pixels.js';
import type { HostileCase } from './corpus.js';

export interface FaceCorpusOptions {
  /** The AT&T faces folder (s1..s40/N.png). */
  attDir: string;
  readKey: string;
  adminKey: string;
  seed?: number;
}

const raw = (image: RgbImage) => sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });

/**
 * @example
 * const cases = await buildFaceHostileCorpus({ attDir, readKey, adminKey });
 * const results = await runCorpus(server.url, cases);
 */
export async function buildFaceHostileCorpus(options: FaceCorpusOptions): Promise<HostileCase[]> {
  const rng = createRng(options.seed ?? 1);
  const face = (person: number, photo: number) => join(options.attDir, `s${person}`, `${photo}.png`);
  const scene = async (placements: Placement[], width = 640, height = 480, background = rng) => (await pasteFaces(busyBackground(width, height, background), placements)).image;
  const read = { authorization: `Bearer ${options.readKey}` };
  const admin = { authorization: `Bearer ${options.adminKey}` };
  const search = (name: string, body: Uint8Array, expect: HostileCase['expect'], query = ''): HostileCase => ({ name, group: 'face', method: 'POST', path: `/v1/search${query}`, headers: read, body, expect });

  const one = await scene([{ file: face(33, 7), x: 260, y: 150, width: 110 }]);
  const thirty = await scene(gridPlacements(Array.from({ length: 30 }, (_, i) => face(1 + i, 1 + (i % 10))), 1280, 960, [120, 150], rng), 1280, 960);
  const thirtyJpeg = new Uint8Array(await encodeJpeg(thirty));
  // A 160-px face with a quarter, or a half, of it left of the picture (on a background where the
  // whole face is found: the detector finds about two thirds of faces a quarter off, docs/research/2026-12-face-stage.md).
  const cutScene = raw(await scene([{ file: face(35, 3), x: 20, y: 120, width: 160 }], 640, 480, createRng(4)));
  const cut = (left: number) => cutScene.clone().extract({ left, top: 0, width: 640 - left, height: 480 }).jpeg().toBuffer();
  const [quarterCut, halfCut] = await Promise.all([cut(60), cut(100)]);
  const rgba = await raw(one).ensureAlpha(0.8).png().toBuffer();
  const cmyk = await raw(one).toColourspace('cmyk').jpeg().toBuffer();
  const huge = await raw(one).resize(4096, 4096, { fit: 'fill' }).jpeg({ quality: 70 }).toBuffer();

  return [
    search('face-none', new Uint8Array(await encodeJpeg(busyBackground(640, 480, rng))), { status: 422, code: 'NO_FACE' }),
    search('face-30-largest', thirtyJpeg, { status: 200 }),
    search('face-30-all', thirtyJpeg, { status: 200 }, '?faces=all'),
    { name: 'face-30-enrol', group: 'face', method: 'POST', path: '/v1/gallery/crowd', headers: admin, body: thirtyJpeg, expect: { status: 422, code: 'MULTIPLE_FACES' } },
    search('face-10-pixels', new Uint8Array(await encodeJpeg(await scene([{ file: face(34, 4), x: 300, y: 200, width: 10 }]))), { status: 422, code: 'NO_FACE' }),
    search('face-cut-by-border-quarter', new Uint8Array(quarterCut), { status: 200 }),
    search('face-cut-by-border-half', new Uint8Array(halfCut), { status: 422, code: 'NO_FACE' }),
    search('face-greyscale', new Uint8Array(await readFile(face(36, 2))), { status: 200 }),
    search('face-rgba-png', new Uint8Array(rgba), { status: 200 }),
    search('face-cmyk-jpeg', new Uint8Array(cmyk), { status: 200 }),
    search('face-4096x4096', new Uint8Array(huge), { status: 200 }),
    search('face-faces-bad-value', new Uint8Array(await encodeJpeg(one)), { status: 400, code: 'INVALID_PARAMETER' }, '?faces=some'),
    { name: 'face-enrol-index-out-of-range', group: 'face', method: 'POST', path: '/v1/gallery/crowd?face=30', headers: admin, body: thirtyJpeg, expect: { status: 400, code: 'INVALID_PARAMETER' } },
  ];
}
