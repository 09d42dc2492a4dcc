/**
 * The gallery store in object storage against a real S3 API server: the journal's conditional
 * appends from several writers at once, the gallery folder's listing and hash cache, and the
 * store's rules (enrol, delete, damaged store) on top of them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { syntheticPng } from '../../test/fixtures/gallery.js';
import { useS3 } from '../../test/fixtures/s3-env.js';
import { sha256Bytes } from '../index/checksums.js';
import { GalleryStore } from '../index/store.js';
import { ObjectBucket } from './bucket.js';
import { ContentCache } from './content-cache.js';
import { ObjectBlobs, ObjectFolder, ObjectJournal } from './gallery.js';
import { childUri, parseObjectUri } from './location.js';

const s3 = useS3();

async function uploadGallery(uri: string, identities: number, perIdentity: number): Promise<ObjectBucket> {
  const bucket = new ObjectBucket(parseObjectUri(uri));
  for (let i = 0; i < identities; i++) {
    for (let j = 0; j < perIdentity; j++) await bucket.put(`id${String(i).padStart(3, '0')}/${j}.png`, await syntheticPng(i * 1000 + j));
  }
  return bucket;
}

describe('the journal in object storage', () => {
  it('gives every record of several concurrent writers its own sequence number: none lost, none twice, no gaps', async () => {
    const uri = s3.prefix('journal');
    const writers = [new ObjectJournal(uri), new ObjectJournal(uri), new ObjectJournal(uri)];
    const perWriter = 8;
    const seqs = await Promise.all(
      writers.map(async (journal, w) => {
        const got: number[] = [];
        for (let i = 0; i < perWriter; i++) got.push(await journal.append({ at: new Date().toISOString(), op: 'delete', identity: `w${w}-r${i}`, folder: [] }));
        return got;
      }),
    );
    const all = seqs.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: writers.length * perWriter }, (_, i) => i + 1));
    const { records, lastSeq } = await new ObjectJournal(uri).read();
    expect(lastSeq).toBe(writers.length * perWriter);
    expect(new Set(records.map((r) => r.identity)).size).toBe(writers.length * perWriter);
    // Each writer's own records are in the order it wrote them.
    for (let w = 0; w < writers.length; w++) {
      const mine = records.filter((r) => r.identity.startsWith(`w${w}-`)).map((r) => r.identity);
      expect(mine).toEqual(Array.from({ length: perWriter }, (_, i) => `w${w}-r${i}`));
    }
  });

  it('an instance reads only what is new since its last read', async () => {
    const uri = s3.prefix('journal');
    const writer = new ObjectJournal(uri);
    const reader = new ObjectJournal(uri);
    await writer.append({ at: 'now', op: 'delete', identity: 'a', folder: [] });
    expect((await reader.read()).lastSeq).toBe(1);
    await writer.append({ at: 'now', op: 'delete', identity: 'b', folder: [] });
    // Record 1 is never fetched again: garbage in its place goes unnoticed by this reader (a fresh one refuses it).
    await new ObjectBucket(parseObjectUri(uri)).put('000000000001.json', 'not a record');
    const { records } = await reader.read();
    expect(records.map((r) => [r.seq, r.identity])).toEqual([
      [1, 'a'],
      [2, 'b'],
    ]);
    await expect(new ObjectJournal(uri).read()).rejects.toMatchObject({ code: 'STORE' });
  });
});

describe('a gallery folder in object storage', () => {
  it('lists identities like a folder on disk and hashes each object once (then by size and ETag)', async () => {
    const root = s3.prefix('gallery');
    const bucket = await uploadGallery(root, 2, 2);
    await bucket.put('id000/notes.txt', 'not an image');
    await bucket.put('loose.png', await syntheticPng(7));
    await bucket.put('.twinsearch/blobs/x.png', await syntheticPng(8));
    const folder = new ObjectFolder(root, { storeDir: childUri(root, '.twinsearch') });
    const warnings: string[] = [];
    const first = await folder.entries({}, warnings);
    expect(first.entries.map((e) => e.source)).toEqual(['id000/0.png', 'id000/1.png', 'id001/0.png', 'id001/1.png']);
    expect(first.entries[0]).toMatchObject({ identity: 'id000', origin: 'folder', sha256: sha256Bytes(await syntheticPng(0)) });
    expect(first.stats).toEqual({ hashed: 4, cached: 0 });
    expect(warnings.join('\n')).toMatch(/1 object\(s\) .* not images/);
    expect(warnings.join('\n')).toMatch(/1 image\(s\) directly in .* ignored/);
    expect(await readFile(await folder.file(first.entries[2]))).toEqual(await syntheticPng(1000));

    // A new instance (empty scratch cache) takes the hashes from hash-cache.json; a replaced object is hashed again.
    await bucket.put('id001/1.png', await syntheticPng(4242));
    const again = await new ObjectFolder(root, { storeDir: childUri(root, '.twinsearch') }).entries({}, []);
    expect(again.stats).toEqual({ hashed: 1, cached: 3 });
    expect(again.entries[3].sha256).toBe(sha256Bytes(await syntheticPng(4242)));
    expect((await new ObjectFolder(root, { storeDir: childUri(root, '.twinsearch') }).entries({ identity: 'id001' }, [])).entries.map((e) => e.source)).toEqual(['id001/0.png', 'id001/1.png']);
  });
});

describe('GalleryStore in object storage', () => {
  it('enrols (blobs, then a record), deletes with tombstones, and refuses a store whose blob vanished', async () => {
    const root = s3.prefix('gallery');
    await uploadGallery(root, 2, 1);
    const a = new GalleryStore(root);
    const b = new GalleryStore(root); // another instance
    expect(a.sharedJournal).toBe(true);
    const photo = await syntheticPng(555);
    const { seq, entries } = await a.enrol('alice', [photo, photo]);
    expect(seq).toBe(1);
    expect(entries).toHaveLength(1);
    const deleted = await b.deleteIdentity('id000');
    expect(deleted).toMatchObject({ seq: 2, removed: [{ source: 'id000/0.png' }] });
    const listing = await new GalleryStore(root).listGalleryEntries();
    expect(listing.journalSeq).toBe(2);
    expect(listing.entries.map((e) => `${e.origin}:${e.source}`)).toEqual([`enrolment:alice/${sha256Bytes(photo)}`, 'folder:id001/0.png']);
    // Another instance (its own scratch space) downloads the blob, verified against its name.
    const other = new ObjectBlobs(childUri(root, '.twinsearch', 'blobs'), new ContentCache(join(s3.scratch, 'other-instance')));
    const file = await other.file(sha256Bytes(photo), photo.byteLength);
    expect(file.startsWith(join(s3.scratch, 'other-instance'))).toBe(true);
    expect(await readFile(file)).toEqual(photo);

    await new ObjectBucket(parseObjectUri(childUri(root, '.twinsearch', 'blobs'))).delete(sha256Bytes(photo));
    await expect(new GalleryStore(root).listGalleryEntries()).rejects.toMatchObject({ code: 'STORE' });
  });
});
