import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isIndexError } from './errors.js';
import { GalleryStore, validateIdentity } from './store.js';

const sha = (s: string | Uint8Array): string => createHash('sha256').update(s).digest('hex');
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A gallery of fake "images" (the store hashes bytes; it never decodes). */
async function gallery(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'store-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(root, path, '..'), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
}

const summary = async (store: GalleryStore): Promise<string[]> =>
  (await store.listGalleryEntries()).entries.map((e) => `${e.identity}|${e.origin}|${e.source}`);

describe('GalleryStore', () => {
  it('lists folder images with their hashes, ignoring its own hidden folder', async () => {
    const root = await gallery({ 'alice/1.png': 'a1', 'alice/2.png': 'a2', 'bob/x/1.png': 'b1', 'notes.txt': 'n' });
    const store = new GalleryStore(root);
    const { entries, journalSeq } = await store.listGalleryEntries();
    expect(journalSeq).toBe(0);
    expect(entries.map((e) => [e.identity, e.source, e.sha256, e.size])).toEqual([
      ['alice', 'alice/1.png', sha('a1'), 2],
      ['alice', 'alice/2.png', sha('a2'), 2],
      ['bob/x', 'bob/x/1.png', sha('b1'), 2],
    ]);
    await store.enrol('carol', [bytes('c1')]);
    expect(await readdir(join(root, '.twinsearch'))).toEqual(expect.arrayContaining(['blobs', 'journal.jsonl', 'hash-cache.json']));
    expect(await summary(store)).not.toContain(expect.stringContaining('.twinsearch'));
  });

  it('enrols durably: blob first, then one journal line; same bytes once', async () => {
    const root = await gallery({ 'alice/1.png': 'a1' });
    const store = new GalleryStore(root);
    const { seq, entries } = await store.enrol('dave', [bytes('d1'), bytes('d2'), bytes('d1')]);
    expect(seq).toBe(1);
    expect(entries.map((e) => e.source)).toEqual([`dave/${sha('d1')}`, `dave/${sha('d2')}`]);
    expect(await readFile(store.blobPath(sha('d2')), 'utf8')).toBe('d2');
    const journal = (await readFile(store.journalPath, 'utf8')).trim().split('\n');
    expect(journal).toHaveLength(1);
    // A fresh instance (another process, after a restart) sees the same gallery.
    expect(await summary(new GalleryStore(root))).toEqual([
      'alice|folder|alice/1.png',
      `dave|enrolment|dave/${sha('d1')}`,
      `dave|enrolment|dave/${sha('d2')}`,
    ]);
    expect((await store.enrol('dave', [bytes('d1')])).seq).toBe(2);
    expect((await store.listGalleryEntries()).entries).toHaveLength(3);
  });

  it('deletes an identity: its folder images as they are now, and its enrolments', async () => {
    const root = await gallery({ 'alice/1.png': 'a1', 'alice/2.png': 'a2', 'bob/1.png': 'b1' });
    const store = new GalleryStore(root);
    await store.enrol('alice', [bytes('a3')]);
    const { seq, removed } = await store.deleteIdentity('alice');
    expect(seq).toBe(2);
    expect(removed.map((e) => e.origin).sort()).toEqual(['enrolment', 'folder', 'folder']);
    expect(await summary(store)).toEqual(['bob|folder|bob/1.png']);
    expect(await store.deleteIdentity('nobody')).toEqual({ seq: null, removed: [] });
    expect((await store.records()).length).toBe(2);
  });

  it('shows folder images added or changed after a deletion, and re-adds later enrolments', async () => {
    const root = await gallery({ 'alice/1.png': 'a1', 'alice/2.png': 'a2' });
    const store = new GalleryStore(root);
    await store.enrol('alice', [bytes('old')]);
    await store.deleteIdentity('alice');
    expect(await summary(store)).toEqual([]);
    await writeFile(join(root, 'alice/2.png'), 'a2-retaken'); // changed bytes: new data
    await writeFile(join(root, 'alice/3.png'), 'a3'); // new file
    await store.enrol('alice', [bytes('new')]);
    expect(await summary(store)).toEqual([`alice|enrolment|alice/${sha('new')}`, 'alice|folder|alice/2.png', 'alice|folder|alice/3.png']);
    // The image enrolled before the deletion stays deleted; the unchanged folder file too.
    const sources = (await store.listGalleryEntries()).entries.map((e) => e.sha256);
    expect(sources).not.toContain(sha('old'));
    expect(sources).not.toContain(sha('a1'));
  });

  it('reuses cached hashes for unchanged files and rehashes changed ones', async () => {
    const root = await gallery({ 'alice/1.png': 'a1', 'alice/2.png': 'a2', 'bob/1.png': 'b1' });
    const store = new GalleryStore(root);
    expect((await store.listGalleryEntries()).hashing).toMatchObject({ hashed: 3, cached: 0 });
    expect((await store.listGalleryEntries()).hashing).toMatchObject({ hashed: 0, cached: 3 });
    await writeFile(join(root, 'bob/1.png'), 'b1'); // same bytes, rewritten: ctime changes
    await writeFile(join(root, 'alice/2.png'), 'A2');
    const third = await store.listGalleryEntries();
    expect(third.hashing).toMatchObject({ hashed: 2, cached: 1 });
    expect(third.entries.find((e) => e.source === 'alice/2.png')?.sha256).toBe(sha('A2'));
  });

  it('refuses a store whose enrolled blob went missing', async () => {
    const root = await gallery({ 'alice/1.png': 'a1' });
    const store = new GalleryStore(root);
    await store.enrol('erin', [bytes('e1')]);
    await rm(store.blobPath(sha('e1')));
    const err = await store.listGalleryEntries().catch((e: unknown) => e);
    expect(isIndexError(err, 'STORE')).toBe(true);
  });

  it('can keep its files outside the gallery (read-only galleries)', async () => {
    const root = await gallery({ 'alice/1.png': 'a1' });
    const storeDir = await mkdtemp(join(tmpdir(), 'store-dir-'));
    const store = new GalleryStore(root, { storeDir });
    await store.enrol('zoe', [bytes('z')]);
    expect(await readdir(root)).toEqual(['alice']);
    expect(await summary(store)).toEqual(['alice|folder|alice/1.png', `zoe|enrolment|zoe/${sha('z')}`]);
  });

  it('lists an empty gallery as empty, and enrolments alone', async () => {
    const root = await mkdtemp(join(tmpdir(), 'store-empty-'));
    const store = new GalleryStore(root);
    expect((await store.listGalleryEntries()).entries).toEqual([]);
    await store.enrol('solo', [bytes('s')]);
    expect(await summary(store)).toEqual([`solo|enrolment|solo/${sha('s')}`]);
  });

  it('validates identity names from outside', () => {
    for (const good of ['alice', 'Latin/character03', 'José Ñ']) expect(() => validateIdentity(good)).not.toThrow();
    for (const bad of ['', ' alice', 'a\nb', '../etc', 'a//b', 'x'.repeat(201)]) expect(() => validateIdentity(bad)).toThrow(/identity/);
  });
});
