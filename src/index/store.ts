/**
 * The gallery store: the gallery is the folder plus the API's enrolments minus its deletions.
 *
 * Layout of the store (default `<gallery>/.twinsearch/`, hidden so the gallery reader skips it;
 * configurable for read-only galleries), on disk (store-files.ts):
 *   journal.jsonl     append-only records, fsynced (journal.ts)
 *   blobs/<sha256>    enrolled image bytes, content-addressed, written atomically BEFORE the
 *                     journal line that mentions them (a crash leaves at most an unreferenced blob)
 *   hash-cache.json   sha256 of folder files by (size, mtime, ctime, inode) (hash-cache.ts)
 * or in object storage (src/storage/gallery.ts): `journal/<seq>.json` (one object per record,
 * created with `If-None-Match: *`), `blobs/<sha256>`, `hash-cache.json`.
 *
 * Semantics (replayed in journal order):
 * - `enrol(identity, images)` adds each image to the identity (same bytes twice = one entry).
 * - `deleteIdentity(identity)` removes every image the identity has at that moment: its
 *   enrolled images, and its folder images, recorded as (source, sha256) tombstones.
 * - A tombstoned folder image stays hidden while the file at that path has those bytes; a file
 *   added to the folder later, or a changed file, is visible again (a new photo is new data).
 * - An enrolment after a deletion re-adds just the images it enrols.
 *
 * Writers: on disk, one process writes a store at a time (the API); in object storage any number
 * of instances append, each record taking the next sequence number with a conditional write.
 * Re-index only reads. Appends within one process are serialised here.
 */
import { sha256Bytes } from './checksums.js';
import { IndexError } from './errors.js';
import type { HashStats } from './hash-cache.js';
import type { DeleteRecord, EnrolRecord, JournalRecord } from './journal.js';
import { FileBlobs, FileFolder, FileJournal, BLOBS_DIR, JOURNAL_FILE } from './store-files.js';
import type { BlobStore, FolderSource, GalleryEntry, JournalLog } from './store-parts.js';
import { childUri, isObjectUri } from '../storage/location.js';
import { ObjectBlobs, ObjectFolder, ObjectJournal } from '../storage/gallery.js';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export type { GalleryEntry } from './store-parts.js';
export { BLOBS_DIR, HASH_CACHE_FILE, JOURNAL_FILE } from './store-files.js';

export const STORE_DIRNAME = '.twinsearch';
/** Longest identity name accepted from enrolments. */
export const MAX_IDENTITY_LENGTH = 200;

export interface GalleryListing {
  /** Sorted by identity, then origin, then source (byte order). */
  entries: GalleryEntry[];
  /** Last journal record applied. */
  journalSeq: number;
  warnings: string[];
  hashing: HashStats & { seconds: number };
}

export interface GalleryStoreOptions {
  /** Store folder. Default `<root>/.twinsearch`. */
  storeDir?: string;
  /** Image extensions of the folder part (see readGallery). */
  extensions?: readonly string[];
}

/** Orders strings by UTF-8 bytes (locale-independent). */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Checks an identity name from outside (the API): non-empty, trimmed, at most 200 characters,
 * no control characters, no empty, `.` or `..` path segments.
 */
export function validateIdentity(identity: string): void {
  const bad = (why: string): never => {
    throw new IndexError('BAD_ARGUMENT', `identity ${JSON.stringify(identity)} ${why}`);
  };
  if (identity.length === 0) bad('is empty');
  if (identity.length > MAX_IDENTITY_LENGTH) bad(`is longer than ${MAX_IDENTITY_LENGTH} characters`);
  if (identity.trim() !== identity) bad('has leading or trailing spaces');
  if (/[\u0000-\u001f\u007f]/.test(identity)) bad('contains control characters');
  if (identity.split('/').some((part) => part === '' || part === '.' || part === '..')) bad('has an empty, "." or ".." path segment');
}

/** The replayed journal: enrolled images per identity and folder tombstones. */
export interface StoreState {
  enrolled: Map<string, Map<string, number>>;
  /** `identity\0source` → tombstoned sha256s. */
  tombstones: Map<string, Set<string>>;
  lastSeq: number;
}

const tombstoneKey = (identity: string, source: string): string => `${identity}\0${source}`;

/**
 * Applies journal records in order (pure).
 *
 * @example
 * const state = replay(records); state.enrolled.get('alice') // Map { '3f1c…' => 1234 }
 */
export function replay(records: readonly JournalRecord[]): StoreState {
  const state: StoreState = { enrolled: new Map(), tombstones: new Map(), lastSeq: 0 };
  for (const r of records) {
    if (r.op === 'enrol') {
      const images = state.enrolled.get(r.identity) ?? new Map<string, number>();
      for (const image of r.images) images.set(image.sha256, image.size);
      state.enrolled.set(r.identity, images);
    } else {
      state.enrolled.delete(r.identity);
      for (const f of r.folder) {
        const key = tombstoneKey(r.identity, f.source);
        const set = state.tombstones.get(key) ?? new Set<string>();
        set.add(f.sha256);
        state.tombstones.set(key, set);
      }
    }
    state.lastSeq = r.seq;
  }
  return state;
}

/**
 * The effective gallery (pure): folder images not tombstoned, plus the enrolled images of the
 * replayed journal (`enrolment` makes their entries), optionally of one identity; sorted by
 * identity, origin, source (byte order).
 *
 * @example
 * const entries = effectiveEntries(folder, replay(records), (identity, sha256, size) => ({ identity, origin: 'enrolment', … }));
 */
export function effectiveEntries(
  folder: readonly GalleryEntry[],
  state: StoreState,
  enrolment: (identity: string, sha256: string, size: number) => GalleryEntry,
  identity?: string,
): GalleryEntry[] {
  const entries = folder.filter((f) => (identity === undefined || f.identity === identity) && !state.tombstones.get(tombstoneKey(f.identity, f.source))?.has(f.sha256));
  for (const [id, images] of state.enrolled) {
    if (identity !== undefined && id !== identity) continue;
    for (const [sha256, size] of images) entries.push(enrolment(id, sha256, size));
  }
  return entries.sort((a, b) => byBytes(a.identity, b.identity) || byBytes(a.origin, b.origin) || byBytes(a.source, b.source));
}

export class GalleryStore {
  /** The gallery folder: an absolute path, or an s3:// URI. */
  readonly root: string;
  /** The store (journal + blobs): an absolute path, or an s3:// URI. */
  readonly dir: string;
  private readonly journal: JournalLog;
  private readonly blobs: BlobStore;
  private readonly folder: FolderSource;
  /** Serialises appends so sequence numbers stay unique within this process. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * `root` and `storeDir` are local paths or `s3://bucket/prefix` URIs (in object storage the
   * journal takes conditional appends, so several instances may write it).
   *
   * @example
   * const store = new GalleryStore('/data/faces');            // store in /data/faces/.twinsearch
   * const shared = new GalleryStore('s3://twinsearch/gallery'); // store in s3://twinsearch/gallery/.twinsearch
   * const { entries } = await store.listGalleryEntries();
   */
  constructor(root: string, options: GalleryStoreOptions = {}) {
    this.root = isObjectUri(root) ? root : resolve(root);
    const storeDir = options.storeDir ?? (isObjectUri(root) ? childUri(root, STORE_DIRNAME) : join(this.root, STORE_DIRNAME));
    this.dir = isObjectUri(storeDir) ? storeDir : resolve(storeDir);
    if (isObjectUri(this.dir)) {
      this.journal = new ObjectJournal(childUri(this.dir, 'journal'));
      this.blobs = new ObjectBlobs(childUri(this.dir, BLOBS_DIR));
    } else {
      this.journal = new FileJournal(join(this.dir, JOURNAL_FILE));
      this.blobs = new FileBlobs(join(this.dir, BLOBS_DIR));
    }
    this.folder = isObjectUri(this.root)
      ? new ObjectFolder(this.root, { storeDir: this.dir, extensions: options.extensions })
      : new FileFolder(this.root, { storeDir: this.dir, extensions: options.extensions });
  }

  /** The journal's path (or URI), for messages and tests. */
  get journalPath(): string {
    return this.journal.where;
  }

  /** Other processes may append to the journal (object storage): instances poll it for their records. */
  get sharedJournal(): boolean {
    return this.journal.shared;
  }

  /** Where an enrolled image's bytes are (or will be, once fetched) on this machine. */
  blobPath(sha256: string): string {
    return this.blobs.path(sha256);
  }

  /** All journal records (optionally only those after `sinceSeq`, for the API to replay after a swap). */
  async records(sinceSeq = 0): Promise<JournalRecord[]> {
    const { records } = await this.journal.read();
    return records.filter((r) => r.seq > sinceSeq);
  }

  /**
   * Removes the blobs of images whose identity was deleted in the journal up to `upToSeq` and that
   * nothing enrolled since (or enrolled for another identity) still refers to. For face data: the
   * index job calls it once a snapshot that includes those deletions is current, so no server
   * needs them to catch up. Resolves the sha256 of the blobs removed.
   *
   * @example
   * await store.removeDeletedBlobs(listing.journalSeq); // ['3f1c…']
   */
  removeDeletedBlobs(upToSeq: number): Promise<string[]> {
    return this.serialise(async () => {
      const { records } = await this.journal.read();
      const live = new Map<string, Set<string>>();
      const deleted = new Set<string>();
      const later = new Set<string>();
      for (const record of records) {
        if (record.op === 'enrol') {
          const hashes = record.images.map((im) => im.sha256);
          if (record.seq > upToSeq) hashes.forEach((h) => later.add(h));
          else live.set(record.identity, new Set([...(live.get(record.identity) ?? []), ...hashes]));
        } else if (record.seq <= upToSeq) {
          live.get(record.identity)?.forEach((h) => deleted.add(h));
          live.delete(record.identity);
        }
      }
      const kept = new Set([...later, ...[...live.values()].flatMap((set) => [...set])]);
      const removed: string[] = [];
      for (const sha256 of deleted) {
        if (kept.has(sha256)) continue;
        await this.blobs.remove(sha256);
        removed.push(sha256);
      }
      return removed;
    });
  }

  /**
   * Local files holding these entries' bytes, in order (downloaded into the instance's cache first
   * when the gallery or the store lives in object storage).
   *
   * @example
   * const paths = await store.files(plan.toEmbed);
   */
  async files(entries: readonly Pick<GalleryEntry, 'origin' | 'source' | 'sha256' | 'size'>[]): Promise<string[]> {
    const paths = new Array<string>(entries.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < entries.length) {
        const i = next++;
        const e = entries[i];
        paths[i] = e.origin === 'enrolment' ? await this.blobs.file(e.sha256, e.size) : await this.folder.file(e);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, entries.length) }, worker));
    return paths;
  }

  /**
   * The bytes of an indexed image, only if they still hash to what was indexed (a folder file may
   * have changed since); undefined when they are gone or changed.
   */
  async imageBytes(entry: { origin: 'folder' | 'enrolment'; source: string; sha256: string; size: number }): Promise<Uint8Array | undefined> {
    try {
      const [file] = await this.files([entry]);
      const bytes = await readFile(file);
      return sha256Bytes(bytes) === entry.sha256 ? bytes : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Durably enrols images for an identity: blobs first, then one journal record. When it resolves
   * the enrolment survives a crash and every later re-index.
   *
   * @example
   * const { entries } = await store.enrol('alice', [await readFile('alice.jpg')]);
   */
  enrol(identity: string, images: readonly Uint8Array[]): Promise<{ seq: number; entries: GalleryEntry[] }> {
    validateIdentity(identity);
    if (images.length === 0) throw new IndexError('BAD_ARGUMENT', 'enrol needs at least one image');
    if (images.some((b) => b.byteLength === 0)) throw new IndexError('BAD_ARGUMENT', 'an enrolled image is empty');
    return this.serialise(async () => {
      const seen = new Map<string, number>();
      for (const bytes of images) {
        const sha256 = sha256Bytes(bytes);
        if (seen.has(sha256)) continue;
        seen.set(sha256, bytes.byteLength);
        await this.blobs.put(sha256, bytes);
      }
      const record: Omit<EnrolRecord, 'seq'> = {
        at: new Date().toISOString(),
        op: 'enrol',
        identity,
        images: [...seen].map(([sha256, size]) => ({ sha256, size })),
      };
      const seq = await this.journal.append(record);
      const entries = record.images.map((im) => this.enrolmentEntry(identity, im.sha256, im.size));
      return { seq, entries };
    });
  }

  /**
   * Durably deletes an identity: its enrolled images and the folder images it has now
   * (tombstoned by path and content). Resolves `removed: 0` and writes nothing if the
   * identity has no images.
   *
   * @example
   * const { removed } = await store.deleteIdentity('alice'); // 0 → unknown identity (404)
   */
  deleteIdentity(identity: string): Promise<{ seq: number | null; removed: GalleryEntry[] }> {
    validateIdentity(identity);
    return this.serialise(async () => {
      const { entries: removed } = await this.listGalleryEntries({ identity });
      if (removed.length === 0) return { seq: null, removed };
      const record: Omit<DeleteRecord, 'seq'> = {
        at: new Date().toISOString(),
        op: 'delete',
        identity,
        folder: removed.filter((e) => e.origin === 'folder').map((e) => ({ source: e.source, sha256: e.sha256 })),
      };
      const seq = await this.journal.append(record);
      return { seq, removed };
    });
  }

  /**
   * The effective gallery: folder images (hashed, cached) not tombstoned, plus enrolled images,
   * with the journal position they reflect. Throws `STORE` if an enrolled blob is missing or
   * has the wrong size (an enrolment must never vanish silently).
   *
   * @example
   * const { entries, journalSeq } = await store.listGalleryEntries();
   * const alice = await store.listGalleryEntries({ identity: 'alice' }); // hashes only alice's files
   */
  async listGalleryEntries(options: { identity?: string } = {}): Promise<GalleryListing> {
    const started = performance.now();
    const warnings: string[] = [];
    const journal = await this.journal.read();
    if (journal.tornTail) warnings.push(`${this.journal.where}: a torn last line (crash mid-append) was ignored`);
    const state = replay(journal.records);
    const folder = await this.folderEntries(options, warnings);
    const entries = effectiveEntries(folder.entries, state, (identity, sha256, size) => this.enrolmentEntry(identity, sha256, size), options.identity);
    const enrolled = entries.filter((e) => e.origin === 'enrolment');
    const sizes = await this.blobs.sizes(enrolled.map((e) => e.sha256));
    for (const e of enrolled) {
      if (sizes.get(e.sha256) !== e.size) throw new IndexError('STORE', `enrolled image ${this.blobPath(e.sha256)} is missing or has the wrong size: the store is damaged`);
    }
    return { entries, journalSeq: journal.lastSeq, warnings, hashing: { ...folder.stats, seconds: (performance.now() - started) / 1000 } };
  }

  /**
   * The folder's images (of one identity, or all), hashed through the cache, tombstones NOT
   * applied: the folder half of the gallery, whichever journal holds the other half.
   *
   * @example
   * const { entries } = await store.folderEntries({ identity: 'alice' }, warnings);
   */
  folderEntries(options: { identity?: string }, warnings: string[]): Promise<{ entries: GalleryEntry[]; stats: HashStats }> {
    return this.folder.entries(options, warnings);
  }

  private enrolmentEntry(identity: string, sha256: string, size: number): GalleryEntry {
    return { identity, origin: 'enrolment', source: `${identity}/${sha256}`, sha256, size, path: this.blobPath(sha256) };
  }

  private serialise<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
