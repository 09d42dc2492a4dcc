/**
 * The gallery store: the gallery is the folder plus the API's enrolments minus its deletions.
 *
 * Layout of the store folder (default `<gallery>/.twinsearch/`, hidden so the gallery reader
 * skips it; configurable for read-only galleries):
 *   journal.jsonl     append-only records, fsynced (journal.ts)
 *   blobs/<sha256>    enrolled image bytes, content-addressed, written atomically BEFORE the
 *                     journal line that mentions them (a crash leaves at most an unreferenced blob)
 *   hash-cache.json   sha256 of folder files by (size, mtime, ctime, inode) (hash-cache.ts)
 *
 * Semantics (replayed in journal order):
 * - `enrol(identity, images)` adds each image to the identity (same bytes twice = one entry).
 * - `deleteIdentity(identity)` removes every image the identity has at that moment: its
 *   enrolled images, and its folder images, recorded as (source, sha256) tombstones.
 * - A tombstoned folder image stays hidden while the file at that path has those bytes; a file
 *   added to the folder later, or a changed file, is visible again (a new photo is new data).
 * - An enrolment after a deletion re-adds just the images it enrols.
 *
 * One process writes a store at a time (the API); re-index only reads it. Appends within that
 * process are serialised here.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { GalleryError, readGallery } from '../data/gallery.js';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256Bytes } from './checksums.js';
import { appendLineDurable, fsyncPath } from './durable.js';
import { IndexError } from './errors.js';
import { hashFiles, type HashStats } from './hash-cache.js';
import { readJournal, type DeleteRecord, type EnrolRecord, type JournalRecord } from './journal.js';

export const STORE_DIRNAME = '.twinsearch';
export const JOURNAL_FILE = 'journal.jsonl';
export const BLOBS_DIR = 'blobs';
export const HASH_CACHE_FILE = 'hash-cache.json';
/** Longest identity name accepted from enrolments. */
export const MAX_IDENTITY_LENGTH = 200;

/** One image of the effective gallery. */
export interface GalleryEntry {
  identity: string;
  origin: 'folder' | 'enrolment';
  /** Folder: path relative to the gallery root. Enrolment: `<identity>/<sha256>`. */
  source: string;
  sha256: string;
  size: number;
  /** Absolute path of the bytes (the folder file, or the blob). */
  path: string;
}

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

export class GalleryStore {
  readonly root: string;
  readonly dir: string;
  private readonly extensions?: readonly string[];
  /** Serialises appends so sequence numbers stay unique within this process. */
  private queue: Promise<unknown> = Promise.resolve();

  /**
   * @example
   * const store = new GalleryStore('/data/faces');            // store in /data/faces/.twinsearch
   * const { entries } = await store.listGalleryEntries();
   */
  constructor(root: string, options: GalleryStoreOptions = {}) {
    this.root = resolve(root);
    this.dir = resolve(options.storeDir ?? join(this.root, STORE_DIRNAME));
    this.extensions = options.extensions;
  }

  get journalPath(): string {
    return join(this.dir, JOURNAL_FILE);
  }

  blobPath(sha256: string): string {
    return join(this.dir, BLOBS_DIR, sha256);
  }

  /** All journal records (optionally only those after `sinceSeq`, for the API to replay after a swap). */
  async records(sinceSeq = 0): Promise<JournalRecord[]> {
    const { records } = await readJournal(this.journalPath);
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
      const { records } = await readJournal(this.journalPath);
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
        await rm(this.blobPath(sha256), { force: true });
        removed.push(sha256);
      }
      return removed;
    });
  }

  /**
   * Durably enrols images for an identity: blobs first (atomic, fsynced), then one fsynced
   * journal line. When it resolves the enrolment survives a crash and every later re-index.
   *
   * @example
   * const { entries } = await store.enrol('alice', [await readFile('alice.jpg')]);
   */
  enrol(identity: string, images: readonly Uint8Array[]): Promise<{ seq: number; entries: GalleryEntry[] }> {
    validateIdentity(identity);
    if (images.length === 0) throw new IndexError('BAD_ARGUMENT', 'enrol needs at least one image');
    if (images.some((b) => b.byteLength === 0)) throw new IndexError('BAD_ARGUMENT', 'an enrolled image is empty');
    return this.serialise(async () => {
      await this.ensureDirs();
      const seen = new Map<string, number>();
      for (const bytes of images) {
        const sha256 = sha256Bytes(bytes);
        if (seen.has(sha256)) continue;
        seen.set(sha256, bytes.byteLength);
        await this.writeBlob(sha256, bytes);
      }
      const record: EnrolRecord = {
        seq: 0,
        at: new Date().toISOString(),
        op: 'enrol',
        identity,
        images: [...seen].map(([sha256, size]) => ({ sha256, size })),
      };
      const seq = await this.append(record);
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
      await this.ensureDirs();
      const record: DeleteRecord = {
        seq: 0,
        at: new Date().toISOString(),
        op: 'delete',
        identity,
        folder: removed.filter((e) => e.origin === 'folder').map((e) => ({ source: e.source, sha256: e.sha256 })),
      };
      const seq = await this.append(record);
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
    const journal = await readJournal(this.journalPath);
    if (journal.tornTail) warnings.push(`${this.journalPath}: a torn last line (crash mid-append) was ignored`);
    const state = replay(journal.records);
    const wanted = (identity: string): boolean => options.identity === undefined || identity === options.identity;

    const folderFiles = (await this.folderFiles(warnings)).filter((f) => wanted(f.identity));
    const { hashes, stats } = await hashFiles(
      folderFiles.map((f) => ({ key: f.source, path: f.path })),
      {
        cachePath: (await this.storeWritable()) ? join(this.dir, HASH_CACHE_FILE) : undefined,
        // A partial listing must not prune the other identities' cached hashes.
        keepOtherEntries: options.identity !== undefined,
        onWarning: (m) => warnings.push(m),
      },
    );
    const entries: GalleryEntry[] = [];
    for (const f of folderFiles) {
      const h = hashes.get(f.source);
      if (!h) continue;
      if (state.tombstones.get(tombstoneKey(f.identity, f.source))?.has(h.sha256)) continue;
      entries.push({ identity: f.identity, origin: 'folder', source: f.source, sha256: h.sha256, size: h.size, path: f.path });
    }
    for (const [identity, images] of state.enrolled) {
      if (!wanted(identity)) continue;
      for (const [sha256, size] of images) {
        await this.checkBlob(sha256, size);
        entries.push(this.enrolmentEntry(identity, sha256, size));
      }
    }
    entries.sort((a, b) => byBytes(a.identity, b.identity) || byBytes(a.origin, b.origin) || byBytes(a.source, b.source));
    return { entries, journalSeq: journal.lastSeq, warnings, hashing: { ...stats, seconds: (performance.now() - started) / 1000 } };
  }

  private enrolmentEntry(identity: string, sha256: string, size: number): GalleryEntry {
    return { identity, origin: 'enrolment', source: `${identity}/${sha256}`, sha256, size, path: this.blobPath(sha256) };
  }

  /** Creates the store folder if it can; a read-only gallery without one simply gets no hash cache. */
  private async storeWritable(): Promise<boolean> {
    try {
      await mkdir(this.dir, { recursive: true });
      return true;
    } catch {
      return false;
    }
  }

  private async folderFiles(warnings: string[]): Promise<{ identity: string; source: string; path: string }[]> {
    try {
      const gallery = await readGallery(this.root, { minIdentities: 1, extensions: this.extensions });
      warnings.push(...gallery.warnings.filter((w) => !w.includes('not for positive pairs')));
      const storeInside = relative(this.root, this.dir);
      return gallery.identities.flatMap((identity) =>
        identity.files
          .map((path) => ({ identity: identity.name, source: relative(this.root, path).split(sep).join('/'), path }))
          .filter((f) => storeInside.startsWith('..') || !f.source.startsWith(`${storeInside.split(sep).join('/')}/`)),
      );
    } catch (error) {
      if (error instanceof GalleryError && error.code === 'NO_IMAGES') return [];
      throw error;
    }
  }

  private async checkBlob(sha256: string, size: number): Promise<void> {
    const path = this.blobPath(sha256);
    const s = await stat(path).catch(() => undefined);
    if (!s || s.size !== size) throw new IndexError('STORE', `enrolled image ${path} is missing or has the wrong size: the store is damaged`);
  }

  private async writeBlob(sha256: string, bytes: Uint8Array): Promise<void> {
    const path = this.blobPath(sha256);
    const existing = await readFile(path).catch(() => undefined);
    if (existing && sha256Bytes(existing) === sha256) return;
    await writeFileAtomic(path, bytes);
  }

  private async ensureDirs(): Promise<void> {
    const blobs = join(this.dir, BLOBS_DIR);
    const existed = await stat(blobs).then(() => true, () => false);
    if (existed) return;
    await mkdir(blobs, { recursive: true });
    await fsyncPath(this.dir);
    await fsyncPath(resolve(this.dir, '..'));
  }

  /** Appends a record with the next sequence number; fsynced (and the folder, when the journal is new). */
  private async append(record: JournalRecord): Promise<number> {
    const { lastSeq } = await readJournal(this.journalPath);
    const withSeq = { ...record, seq: lastSeq + 1 };
    const { created } = await appendLineDurable(this.journalPath, JSON.stringify(withSeq));
    if (created) await fsyncPath(this.dir);
    return withSeq.seq;
  }

  private serialise<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
