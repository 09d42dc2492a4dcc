/**
 * Faces end to end: a tiny AT&T gallery as files → a face model card → the index → the app →
 * /v1/search on 640x480 composite photos. Also NO_FACE, MULTIPLE_FACES and a named face, the
 * aligned-chip thumbnails, and the index's list of images without a face.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../src/api/runtime.js';
import { EmbedResponseSchema, EnrolResponseSchema, ErrorSchema, SearchResponseSchema, VerifyResponseSchema } from '../src/api/schemas/index.js';
import { formatSummary } from '../src/index/reindex.js';
import { readCurrent } from '../src/index/snapshot.js';
import { parseManifest } from '../src/index/manifest.js';
import { ADMIN_KEY, bearer, fixtureRuntime, READ_KEY } from './fixtures/api.js';
import { attFile, createFaceFixture, facePhoto, haveAtt, type FaceFixture } from './fixtures/faces.js';

let fx: FaceFixture;
let rt: Runtime;
const read = bearer(READ_KEY);
const admin = bearer(ADMIN_KEY);

beforeAll(async () => {
  if (!haveAtt) return;
  fx = await createFaceFixture({ people: 4, photos: 3 });
  rt = await fixtureRuntime(fx);
}, 180_000);

afterAll(async () => {
  await rt?.close();
  await fx?.cleanup();
});

const post = (path: string, body: BodyInit, headers: Record<string, string> = read) => rt.app.request(path, { method: 'POST', body, headers });
/** Whether the box's centre lies in the pasted frame (the detector's box is around the face, a little looser or tighter than the frame). */
const inside = (box: { x: number; y: number; width: number; height: number }, x: number, y: number, width: number, height: number) => {
  const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
  return cx >= x && cx <= x + width && cy >= y && cy <= y + height && box.width > width / 2 && box.width < width * 1.5;
};

async function expectError(res: Response, status: number, code: string): Promise<void> {
  const body: unknown = await res.json();
  expect({ status: res.status, body }).toMatchObject({ status, body: { error: { code } } });
  ErrorSchema.parse(body);
}

describe.skipIf(!haveAtt)('a face model through the index and the API', () => {
  it('indexes the largest face of each gallery image and lists the image without a face, in the manifest and in words', async () => {
    expect(fx.built.images).toBe(12);
    expect(fx.built.faces).toEqual({ rule: 'largest', noFace: [{ identity: 'nobody', origin: 'folder', source: 'nobody/empty.jpg' }], several: [] });
    expect(formatSummary(fx.built)).toContain('1 image without a face left out (nobody/empty.jpg)');
    const manifest = parseManifest(await readFile(join(fx.indexDir, (await readCurrent(fx.indexDir)) as string, 'manifest.json'), 'utf8'));
    expect(manifest.faces?.noFace.map((f) => f.source)).toEqual(['nobody/empty.jpg']);
    expect(manifest.model.id).toBe(fx.card.modelId);
  });

  it('finds the person in a 640x480 photo where the face is a small part, with the face box where it was pasted', async () => {
    // s33's photo 7 is not in the gallery (photos 1-3 are).
    const photo = await facePhoto([{ file: attFile(33, 7), x: 260, y: 150, width: 110 }], 5);
    const res = await post('/v1/search', new Uint8Array(photo));
    expect(res.status).toBe(200);
    const body = SearchResponseSchema.parse(await res.json());
    expect(body.decision).toMatchObject({ identity: 's33', match: true });
    expect(inside(body.face!.box, 260, 150, 110, 134)).toBe(true);
    expect(body.face!.score).toBeGreaterThan(0.5);
    expect(body.faces).toBeUndefined();
  });

  it('searches every face with faces=all, largest first, each with its box and its own answer', async () => {
    const photo = await facePhoto(
      [
        { file: attFile(31, 8), x: 40, y: 120, width: 140 },
        { file: attFile(34, 9), x: 330, y: 80, width: 180 },
      ],
      6,
    );
    const res = await post('/v1/search?faces=all', new Uint8Array(photo));
    expect(res.status).toBe(200);
    const body = SearchResponseSchema.parse(await res.json());
    expect(body.faces?.map((f) => f.decision.identity)).toEqual(['s34', 's31']);
    expect(inside(body.faces![0].face.box, 330, 80, 180, 220)).toBe(true);
    expect(inside(body.faces![1].face.box, 40, 120, 140, 170)).toBe(true);
    // The top-level answer is the largest face's.
    expect(body.decision.identity).toBe('s34');
    // Without faces=all, only the largest face.
    const largest = SearchResponseSchema.parse(await (await post('/v1/search', new Uint8Array(photo))).json());
    expect(largest.decision.identity).toBe('s34');
    expect(largest.faces).toBeUndefined();
  });

  it('answers 422 NO_FACE for an image without a face, on search, verify and embed', async () => {
    const empty = await facePhoto([], 7);
    await expectError(await post('/v1/search', new Uint8Array(empty)), 422, 'NO_FACE');
    await expectError(await post('/v1/embed', new Uint8Array(empty)), 422, 'NO_FACE');
    const face = await readFile(attFile(32, 5));
    const verify = { imageA: face.toString('base64'), imageB: empty.toString('base64') };
    await expectError(await rt.app.request('/v1/verify', { method: 'POST', body: JSON.stringify(verify), headers: { ...read, 'content-type': 'application/json' } }), 422, 'NO_FACE');
  });

  it('verifies two photos of one person as the same, with both faces', async () => {
    const body = { imageA: (await readFile(attFile(35, 1))).toString('base64'), imageB: (await facePhoto([{ file: attFile(35, 2), x: 100, y: 100, width: 150 }], 8)).toString('base64') };
    const res = await rt.app.request('/v1/verify', { method: 'POST', body: JSON.stringify(body), headers: { ...read, 'content-type': 'application/json' } });
    const out = VerifyResponseSchema.parse(await res.json());
    expect(out.same).toBe(true);
    expect(out.faces).toHaveLength(2);
  });

  it('refuses to enrol an image with several faces (MULTIPLE_FACES) unless the client names one; the named face is then found', async () => {
    const group = await facePhoto(
      [
        { file: attFile(36, 1), x: 30, y: 100, width: 170 },
        { file: attFile(37, 1), x: 400, y: 150, width: 120 },
      ],
      9,
    );
    await expectError(await post('/v1/gallery/s37', new Uint8Array(group), admin), 422, 'MULTIPLE_FACES');
    await expectError(await post('/v1/gallery/s37?face=2', new Uint8Array(group), admin), 400, 'INVALID_PARAMETER');
    const res = await post('/v1/gallery/s37?face=1', new Uint8Array(group), admin);
    expect(res.status).toBe(201);
    EnrolResponseSchema.parse(await res.json());
    // Another photo of s37 now finds s37 (the smaller face was enrolled, not s36's).
    const probe = SearchResponseSchema.parse(await (await post('/v1/search', new Uint8Array(await facePhoto([{ file: attFile(37, 4), x: 200, y: 120, width: 130 }], 10)))).json());
    expect(probe.decision).toMatchObject({ identity: 's37', match: true });
    const other = SearchResponseSchema.parse(await (await post('/v1/search', new Uint8Array(await readFile(attFile(36, 4))))).json());
    expect(other.decision.identity).not.toBe('s37');
  });

  it('shows the aligned chip of the face as the thumbnail', async () => {
    const body = SearchResponseSchema.parse(await (await post('/v1/search', new Uint8Array(await readFile(attFile(32, 6))))).json());
    const res = await rt.app.request(body.matches[0].image.thumbnail, { headers: read });
    expect(res.status).toBe(200);
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    // The chip is square and in colour; the gallery image is a 92x112 grey PNG.
    expect([meta.width, meta.height, meta.channels]).toEqual([96, 96, 3]);
  });

  it('leaves no tensor behind over repeated searches', async () => {
    const photo = new Uint8Array(await facePhoto([{ file: attFile(31, 9), x: 300, y: 200, width: 100 }], 11));
    await post('/v1/search', photo);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) expect((await post('/v1/search', photo)).status).toBe(200);
    expect(tf.memory().numTensors).toBe(before);
  });
});

/** Every file under `dir` (recursively) whose bytes contain `needle`, as paths relative to `dir`. */
async function filesHolding(dir: string, needle: Buffer): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    if ((await readFile(path)).includes(needle)) out.push(path.slice(dir.length + 1));
  }
  return out;
}

describe.skipIf(!haveAtt)('deleting a person (biometric erasure)', () => {
  it('removes the face from search at once, and from every retained snapshot and the stored blobs by the next re-index', async () => {
    const photo = await readFile(attFile(38, 1));
    expect((await post('/v1/gallery/s38', new Uint8Array(photo), admin)).status).toBe(201);
    const { vector } = EmbedResponseSchema.parse(await (await post('/v1/embed', new Uint8Array(photo))).json());
    const needle = Buffer.from(Float32Array.from(vector).buffer);
    // Two re-indexes: two retained snapshots hold the face, and the enrolled blob is stored.
    await fx.index('reindex');
    await fx.index('reindex');
    const before = await filesHolding(fx.indexDir, needle);
    expect(before.filter((f) => f.endsWith('vectors.f32')).length).toBe(2);
    expect(before.some((f) => f.endsWith('hnsw.bin'))).toBe(true);
    expect((await filesHolding(fx.dir, photo)).some((f) => f.includes('blobs'))).toBe(true);

    expect((await rt.app.request('/v1/gallery/s38', { method: 'DELETE', headers: admin })).status).toBe(200);
    const probe = SearchResponseSchema.parse(await (await post('/v1/search', new Uint8Array(await readFile(attFile(38, 2))))).json());
    expect(probe.matches.map((m) => m.identity)).not.toContain('s38');

    const summary = await fx.index('reindex');
    expect(await filesHolding(fx.indexDir, needle)).toEqual([]);
    expect(await filesHolding(fx.dir, photo)).toEqual([]);
    // Only the new snapshot is retained; it still serves the others.
    expect((await readdir(fx.indexDir)).filter((d) => /^v\d/.test(d))).toEqual([summary]);
    const other = SearchResponseSchema.parse(await (await post('/v1/search', new Uint8Array(await readFile(attFile(32, 7))))).json());
    expect(other.decision.identity).toBe('s32');
  }, 120_000);
});
