/**
 * The three places a gallery store keeps things, so the store's rules (store.ts) are the same
 * whether they live on disk (store-files.ts) or in object storage (src/storage/gallery.ts):
 * the enrolment journal, the enrolled images' bytes, and the gallery folder.
 */
import type { HashStats } from './hash-cache.js';
import type { DeleteRecord, EnrolRecord, JournalContents } from './journal.js';

/** One image of the effective gallery. */
export interface GalleryEntry {
  identity: string;
  origin: 'folder' | 'enrolment';
  /** Folder: path relative to the gallery root. Enrolment: `<identity>/<sha256>`. */
  source: string;
  sha256: string;
  size: number;
  /**
   * Where the bytes are on this machine: the folder file or the blob, or (object storage) the
   * file in the instance's cache they are downloaded to (`GalleryStore.files` fetches them).
   */
  path: string;
}

/** A journal record before the journal gives it its sequence number. */
export type NewJournalRecord = Omit<EnrolRecord, 'seq'> | Omit<DeleteRecord, 'seq'>;

export interface JournalLog {
  /** The journal's path or URI, for messages. */
  readonly where: string;
  /** Other processes append to it too: instances poll it for their records. */
  readonly shared: boolean;
  /** Every record, in sequence order. */
  read(): Promise<JournalContents>;
  /** Appends durably with the next sequence number and resolves it. */
  append(record: NewJournalRecord): Promise<number>;
}

export interface BlobStore {
  readonly where: string;
  /** Stores enrolled bytes durably (before the journal record that names them). */
  put(sha256: string, bytes: Uint8Array): Promise<void>;
  /** The stored size of each of these blobs (absent: not stored). */
  sizes(sha256s: readonly string[]): Promise<Map<string, number>>;
  /** Where a blob's bytes are, or will be once fetched, on this machine. */
  path(sha256: string): string;
  /** The local file of a blob, fetched first when it lives in object storage. */
  file(sha256: string, size: number): Promise<string>;
  /** Deletes a blob everywhere this store keeps it (object storage and this machine's cache); absent is fine. */
  remove(sha256: string): Promise<void>;
}

export interface FolderSource {
  /** The gallery folder's path or URI. */
  readonly root: string;
  /** The folder's images (of one identity, or all), hashed, tombstones not applied. */
  entries(options: { identity?: string }, warnings: string[]): Promise<{ entries: GalleryEntry[]; stats: HashStats }>;
  /** The local file of a folder image, fetched first when it lives in object storage. */
  file(entry: Pick<GalleryEntry, 'source' | 'sha256' | 'size'>): Promise<string>;
}
