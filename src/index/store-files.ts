/**
 * The gallery store's parts on disk: the journal file (fsynced appends), the blobs folder
 * (atomic, content-addressed) and the gallery folder (hashed through hash-cache.json).
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { GalleryError, readGallery } from '../data/gallery.js';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256Bytes } from './checksums.js';
import { appendLineDurable, fsyncPath } from './durable.js';
import { hashFiles, type HashStats } from './hash-cache.js';
import { readJournal, type JournalContents } from './journal.js';
import type { BlobStore, FolderSource, GalleryEntry, JournalLog, NewJournalRecord } from './store-parts.js';

export const JOURNAL_FILE = 'journal.jsonl';
export const BLOBS_DIR = 'blobs';
export const HASH_CACHE_FILE = 'hash-cache.json';

/** Creates the store folder (and its parent's entry) durably the first time something is written. */
async function ensureDir(dir: string): Promise<void> {
  if (await stat(dir).then(() => true, () => false)) return;
  await mkdir(dir, { recursive: true });
  await fsyncPath(dir);
  await fsyncPath(resolve(dir, '..'));
}

/** journal.jsonl: one fsynced line per record; only one process appends to it. */
export class FileJournal implements JournalLog {
  readonly shared = false;
  constructor(readonly where: string) {}

  read(): Promise<JournalContents> {
    return readJournal(this.where);
  }

  async append(record: NewJournalRecord): Promise<number> {
    await ensureDir(resolve(this.where, '..'));
    const { lastSeq } = await readJournal(this.where);
    const seq = lastSeq + 1;
    const { created } = await appendLineDurable(this.where, JSON.stringify({ ...record, seq }));
    if (created) await fsyncPath(resolve(this.where, '..'));
    return seq;
  }
}

/** blobs/<sha256>: enrolled bytes, each written atomically. */
export class FileBlobs implements BlobStore {
  constructor(readonly where: string) {}

  path(sha256: string): string {
    return join(this.where, sha256);
  }

  async put(sha256: string, bytes: Uint8Array): Promise<void> {
    const path = this.path(sha256);
    const existing = await readFile(path).catch(() => undefined);
    if (existing && sha256Bytes(existing) === sha256) return;
    if (!(await stat(this.where).then(() => true, () => false))) {
      await ensureDir(resolve(this.where, '..'));
      await ensureDir(this.where);
    }
    await writeFileAtomic(path, bytes);
  }

  async sizes(sha256s: readonly string[]): Promise<Map<string, number>> {
    const sizes = new Map<string, number>();
    for (const sha256 of sha256s) {
      const s = await stat(this.path(sha256)).catch(() => undefined);
      if (s) sizes.set(sha256, s.size);
    }
    return sizes;
  }

  async file(sha256: string): Promise<string> {
    return this.path(sha256);
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.path(sha256), { force: true });
  }
}

/** The gallery folder on disk; the store folder inside it (if it is) is not part of it. */
export class FileFolder implements FolderSource {
  constructor(
    readonly root: string,
    private readonly options: { storeDir: string; extensions?: readonly string[] },
  ) {}

  async entries(options: { identity?: string }, warnings: string[]): Promise<{ entries: GalleryEntry[]; stats: HashStats }> {
    const folderFiles = (await this.folderFiles(warnings)).filter((f) => options.identity === undefined || f.identity === options.identity);
    const { hashes, stats } = await hashFiles(
      folderFiles.map((f) => ({ key: f.source, path: f.path })),
      {
        cachePath: (await this.storeWritable()) ? join(this.options.storeDir, HASH_CACHE_FILE) : undefined,
        // A partial listing must not prune the other identities' cached hashes.
        keepOtherEntries: options.identity !== undefined,
        onWarning: (m) => warnings.push(m),
      },
    );
    const entries: GalleryEntry[] = [];
    for (const f of folderFiles) {
      const h = hashes.get(f.source);
      if (h) entries.push({ identity: f.identity, origin: 'folder', source: f.source, sha256: h.sha256, size: h.size, path: f.path });
    }
    return { entries, stats };
  }

  async file(entry: Pick<GalleryEntry, 'source'>): Promise<string> {
    return join(this.root, ...entry.source.split('/'));
  }

  /** Creates the store folder if it can; a read-only gallery without one simply gets no hash cache. */
  private async storeWritable(): Promise<boolean> {
    try {
      await mkdir(this.options.storeDir, { recursive: true });
      return true;
    } catch {
      return false;
    }
  }

  private async folderFiles(warnings: string[]): Promise<{ identity: string; source: string; path: string }[]> {
    try {
      const gallery = await readGallery(this.root, { minIdentities: 1, extensions: this.options.extensions });
      warnings.push(...gallery.warnings.filter((w) => !w.includes('not for positive pairs')));
      const storeInside = relative(this.root, this.options.storeDir);
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
}
