/**
 * The gallery store's parts in object storage (see src/index/store-parts.ts for what each does):
 *
 *   <store>/journal/<seq, 12 digits>.json   one object per record. Appending record n+1 is a
 *                                           create-if-absent (`If-None-Match: *`) of its key, so
 *                                           two instances appending at once get different
 *                                           sequence numbers: the loser reads and takes the next.
 *   <store>/blobs/<sha256>                  enrolled bytes, written before the record naming them
 *   <store>/hash-cache.json                 sha256 of the gallery's objects by (key, size, ETag)
 *   <gallery>/<identity>/<image>            the gallery folder, as on disk
 *
 * Consistency: S3, R2 and MinIO give read-after-write and list-after-write consistency, so a
 * record acknowledged to one instance is in the next listing any instance makes. Instances poll
 * the journal (list after the last key they have) and replay new records in sequence order.
 */
import { readFile, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { DEFAULT_IMAGE_EXTENSIONS } from '../data/gallery.js';
import { IndexError } from '../index/errors.js';
import type { HashStats } from '../index/hash-cache.js';
import { JournalRecordSchema, type JournalContents, type JournalRecord } from '../index/journal.js';
import type { BlobStore, FolderSource, GalleryEntry, JournalLog, NewJournalRecord } from '../index/store-parts.js';
import { writeFileAtomic } from '../util/atomic.js';
import { ObjectBucket } from './bucket.js';
import { ContentCache } from './content-cache.js';
import { isObjectUri, parseObjectUri } from './location.js';
import { scratchPath } from './scratch.js';

const RECORD_KEY = /^(\d{12})\.json$/;
const recordKey = (seq: number): string => `${String(seq).padStart(12, '0')}.json`;

/** Runs `task` over `items` with at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]);
      }
    }),
  );
  return out;
}

/** A content cache in the scratch space as it is now (TMPDIR moves it: each instance may have its own). */
const scratchCache = (): ContentCache => new ContentCache(scratchPath('cache'));

/**
 * The journal as one object per record. Records are immutable once written, so an instance keeps
 * those it has read and lists only after the last one.
 *
 * @example
 * const journal = new ObjectJournal('s3://twinsearch/gallery/.twinsearch/journal');
 * const seq = await journal.append({ at, op: 'delete', identity: 'bob', folder: [] });
 */
export class ObjectJournal implements JournalLog {
  readonly shared = true;
  private readonly bucket: ObjectBucket;
  private readonly known: JournalRecord[] = [];

  constructor(readonly where: string) {
    this.bucket = new ObjectBucket(parseObjectUri(where));
  }

  /** Every record, in sequence order: those read before, and the ones listed after the last of them. */
  async read(): Promise<JournalContents> {
    const lastSeq = this.known.at(-1)?.seq ?? 0;
    const listed = await this.bucket.list('', lastSeq > 0 ? { startAfter: recordKey(lastSeq) } : {});
    const fresh = listed.filter((o) => RECORD_KEY.test(o.key));
    const records = await mapLimit(fresh, 8, async (o) => {
      const got = await this.bucket.get(o.key);
      if (got === null || got === 'not-modified') throw new IndexError('STORE', `${this.bucket.uri(o.key)} vanished: journal records are never deleted, the store is damaged`);
      let record: JournalRecord;
      try {
        record = JournalRecordSchema.parse(JSON.parse(got.body.toString('utf8')));
      } catch (error) {
        throw new IndexError('STORE', `${this.bucket.uri(o.key)} is not a valid journal record`, { cause: error });
      }
      if (recordKey(record.seq) !== o.key) throw new IndexError('STORE', `${this.bucket.uri(o.key)} holds record ${record.seq}`);
      return record;
    });
    for (const record of records) {
      const last = this.known.at(-1)?.seq ?? 0;
      if (record.seq <= last) continue;
      this.known.push(record);
    }
    return { records: [...this.known], lastSeq: this.known.at(-1)?.seq ?? 0, tornTail: false };
  }

  async append(record: NewJournalRecord): Promise<number> {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { lastSeq } = await this.read();
      const seq = lastSeq + 1;
      const body = JSON.stringify({ ...record, seq });
      if ((await this.bucket.put(recordKey(seq), body, { ifNoneMatch: '*' })) !== null) return seq;
      // Taken: by another instance, or by this very write whose answer was lost (then it is ours).
      const got = await this.bucket.get(recordKey(seq));
      if (got !== null && got !== 'not-modified' && got.body.toString('utf8') === body) return seq;
    }
    throw new IndexError('UNAVAILABLE', `${this.where}: could not append a journal record after 100 tries (the journal moves faster than this instance can write)`);
  }
}

/**
 * Enrolled bytes under `blobs/<sha256>`; an instance keeps the ones it reads (or enrolled) in its
 * content cache.
 */
export class ObjectBlobs implements BlobStore {
  private readonly bucket: ObjectBucket;

  constructor(
    readonly where: string,
    private readonly cache: ContentCache = scratchCache(),
  ) {
    this.bucket = new ObjectBucket(parseObjectUri(where));
  }

  path(sha256: string): string {
    return this.cache.path(sha256);
  }

  async put(sha256: string, bytes: Uint8Array): Promise<void> {
    // Content-addressed: an existing object with this name already holds these bytes.
    await this.bucket.put(sha256, bytes, { ifNoneMatch: '*' });
    await this.cache.put(sha256, bytes);
  }

  async sizes(sha256s: readonly string[]): Promise<Map<string, number>> {
    if (sha256s.length === 0) return new Map();
    const wanted = new Set(sha256s);
    const sizes = new Map<string, number>();
    for (const o of await this.bucket.list()) if (wanted.has(o.key)) sizes.set(o.key, o.size);
    return sizes;
  }

  async file(sha256: string, size: number): Promise<string> {
    return (await this.cache.fetch(this.bucket, sha256, { sha256, size })).path;
  }

  async remove(sha256: string): Promise<void> {
    await this.bucket.delete(sha256);
    await rm(this.cache.path(sha256), { force: true });
  }
}

type HashRow = [size: number, etag: string, sha256: string];
interface HashCacheFile {
  format: 1;
  files: Record<string, HashRow>;
}

/** hash-cache.json beside the journal: in the bucket when the store is, else in the store folder. */
class HashCacheLocation {
  private readonly bucket?: ObjectBucket;
  private readonly path?: string;

  constructor(storeDir: string) {
    if (isObjectUri(storeDir)) this.bucket = new ObjectBucket(parseObjectUri(storeDir));
    else this.path = join(storeDir, 'object-hash-cache.json');
  }

  async load(): Promise<Map<string, HashRow>> {
    let text: string | undefined;
    try {
      if (this.bucket) {
        const got = await this.bucket.get('hash-cache.json');
        text = got && got !== 'not-modified' ? got.body.toString('utf8') : undefined;
      } else {
        text = await readFile(this.path as string, 'utf8').catch(() => undefined);
      }
      const json = text ? (JSON.parse(text) as Partial<HashCacheFile>) : undefined;
      if (json?.format !== 1 || typeof json.files !== 'object' || json.files === null) return new Map();
      return new Map(Object.entries(json.files).filter(([, row]) => Array.isArray(row) && row.length === 3));
    } catch {
      return new Map(); // only a cache: hash again
    }
  }

  async save(rows: Map<string, HashRow>): Promise<void> {
    const body = JSON.stringify({ format: 1, files: Object.fromEntries(rows) } satisfies HashCacheFile);
    if (this.bucket) await this.bucket.put('hash-cache.json', body);
    else await writeFileAtomic(this.path as string, body);
  }
}

/**
 * A gallery folder in object storage: every "folder" (key prefix) that directly holds images is
 * an identity, as on disk; keys with a segment starting with "." are hidden. An image seen for the
 * first time is downloaded (into the content cache) to hash it; later runs take its hash from
 * hash-cache.json while its size and ETag stay the same.
 *
 * @example
 * const folder = new ObjectFolder('s3://twinsearch/gallery', { storeDir: 's3://twinsearch/gallery/.twinsearch' });
 * const { entries } = await folder.entries({}, warnings);
 */
export class ObjectFolder implements FolderSource {
  private readonly bucket: ObjectBucket;
  private readonly hashes: HashCacheLocation;
  private readonly extensions: Set<string>;

  constructor(
    readonly root: string,
    options: { storeDir: string; extensions?: readonly string[] },
    private readonly cache: ContentCache = scratchCache(),
  ) {
    this.bucket = new ObjectBucket(parseObjectUri(root));
    this.hashes = new HashCacheLocation(options.storeDir);
    this.extensions = new Set((options.extensions ?? DEFAULT_IMAGE_EXTENSIONS).map((e) => e.replace(/^\./, '').toLowerCase()));
  }

  async entries(options: { identity?: string }, warnings: string[]): Promise<{ entries: GalleryEntry[]; stats: HashStats }> {
    const listed = await this.bucket.list(options.identity === undefined ? '' : `${options.identity}/`);
    const images: { key: string; identity: string; size: number; etag: string }[] = [];
    let nonImages = 0;
    let loose = 0;
    for (const o of listed) {
      if (o.key.endsWith('/') || o.key.split('/').some((part) => part.startsWith('.'))) continue;
      const slash = o.key.lastIndexOf('/');
      const identity = slash < 0 ? '' : o.key.slice(0, slash);
      if (options.identity !== undefined && identity !== options.identity) continue;
      if (!this.extensions.has(extname(o.key).slice(1).toLowerCase())) nonImages++;
      else if (identity === '') loose++;
      else images.push({ key: o.key, identity, size: o.size, etag: o.etag });
    }
    if (nonImages) warnings.push(`${nonImages} object(s) in ${this.root} are not images by their extension and were left out (images are .${[...this.extensions].join(', .')})`);
    if (loose) warnings.push(`${loose} image(s) directly in ${this.root} ignored: put each identity's images under its own prefix`);

    const rows = await this.hashes.load();
    const fresh = options.identity === undefined ? new Map<string, HashRow>() : new Map(rows);
    const stats: HashStats = { hashed: 0, cached: 0 };
    const found = await mapLimit(images, 8, async (image) => {
      const old = rows.get(image.key);
      if (old && old[0] === image.size && old[1] === image.etag) {
        stats.cached++;
        fresh.set(image.key, old);
        return { image, sha256: old[2], size: old[0] };
      }
      const adopted = await this.cache.adopt(this.bucket, image.key);
      if (!adopted) {
        warnings.push(`${this.bucket.uri(image.key)} disappeared while the gallery was being read; left out`);
        return null;
      }
      stats.hashed++;
      fresh.set(image.key, [adopted.size, image.etag, adopted.sha256]);
      return { image, sha256: adopted.sha256, size: adopted.size };
    });
    const changed = stats.hashed > 0 || (options.identity === undefined && rows.size !== fresh.size);
    if (changed) await this.hashes.save(fresh).catch((error: Error) => warnings.push(`hash cache not saved: ${error.message}`));
    const entries: GalleryEntry[] = [];
    for (const f of found) {
      if (f) entries.push({ identity: f.image.identity, origin: 'folder', source: f.image.key, sha256: f.sha256, size: f.size, path: this.cache.path(f.sha256) });
    }
    return { entries, stats };
  }

  /**
   * The cached copy of a folder image. An object that changed or vanished since it was listed
   * yields a path with no file behind it, so the embedder reports that one image as unreadable
   * (it is tried again on the next run) instead of failing the whole job.
   */
  async file(entry: Pick<GalleryEntry, 'source' | 'sha256' | 'size'>): Promise<string> {
    try {
      return (await this.cache.fetch(this.bucket, entry.source, entry)).path;
    } catch (error) {
      if (error instanceof IndexError && (error.code === 'CORRUPT_SNAPSHOT' || error.code === 'NO_SNAPSHOT')) return this.cache.path(entry.sha256);
      throw error;
    }
  }
}
