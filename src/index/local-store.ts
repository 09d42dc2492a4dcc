/**
 * The local vector store: immutable HNSW snapshots on disk (index/<version>/, CURRENT names the
 * published one), one loaded per serving instance, with the gallery store's journal replayed on
 * top. It is the only code that replaces the served snapshot or changes it.
 *
 * Hot reload: when CURRENT names a new version (fs.watch on the folder, and a periodic check
 * because watch events can be lost), the new snapshot is opened and verified into a NEW instance
 * off the request path (`openSnapshot`: checksums, model, dimension, graph), caught up with the
 * journal (`catchUp`), and only then swapped in. A request takes a reader (the served instance)
 * once, so requests in flight finish on the old instance and none ever sees a half-loaded one.
 * A snapshot that fails verification is refused (remembered, logged, reported by `status()`) and
 * the old one keeps serving.
 *
 * Enrolments and deletions go through here too: durably into the gallery store first, then into
 * the served instance, under one mutex shared with the swap, so no change can fall between the
 * journal read of a catch-up and the swap. Other processes see them when they next swap in a
 * snapshot (catch-up), not at once: `capabilities.sharedWrites` is false.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Embedder } from '../embedding/index.js';
import { sha256Bytes } from './checksums.js';
import type { CatalogueEntry } from './catalogue.js';
import { IndexError, isIndexError } from './errors.js';
import { catchUp } from './live.js';
import { openSnapshot, type LiveSnapshot } from './live-snapshot.js';
import { definedOnly, runIndex, type IndexRunOptions, type IndexRunSummary } from './reindex.js';
import { readCurrent } from './snapshot.js';
import type { Expectation } from './snapshot-read.js';
import type { GalleryStore } from './store.js';
import { imageId } from './ids.js';
import { ReloadTracker } from './reloads.js';
import type { EnrolImage, EnrolResult, GenerationInfo, ReindexOptions, ReloadOutcome, StoreCapabilities, StoreReader, StoreStatus, VectorStore } from './vector-store.js';

/** The logger calls this store makes (pino's shape). */
export interface StoreLog {
  info(fields: object, message: string): void;
  warn(fields: object | string, message?: string): void;
  error(fields: object, message: string): void;
}

export interface LocalStoreOptions {
  indexDir: string;
  /** What the serving model needs from a snapshot (dimension, metric, model id and weights). */
  expect: Expectation;
  /** Search ef; default the snapshot's. */
  ef?: number;
  /** The gallery: folder + enrolment journal + blobs. */
  gallery: GalleryStore;
  /** Embeds enrolled images found in the journal after a swap (catch-up), and the re-index's new images. */
  embedder: Embedder;
  log: StoreLog;
  /** Poll CURRENT every this many ms as a fallback to fs.watch; 0 = no polling. Default 5000. */
  pollMs?: number;
  /** Watch the index folder for CURRENT changes. Default true. */
  watch?: boolean;
  /** The command that builds this model's index, shown when there is none or it belongs to another model. */
  buildCommand?: string;
  /** Options of the re-index `reindex()` runs (graph parameters, snapshots kept). */
  reindex?: Pick<IndexRunOptions, 'params' | 'keep' | 'maxDeletedFraction'>;
}

/** Searches run in this process: each sees the writes before it; other processes see them at their next swap. */
const LOCAL_CAPABILITIES: StoreCapabilities = { readYourWrites: true, sharedWrites: false, ef: true, exact: false };

/** A reader over one loaded snapshot: the instance a request took stays its instance. */
function snapshotReader(snapshot: LiveSnapshot): StoreReader {
  return {
    generation: snapshot.version,
    info(): GenerationInfo {
      const s = snapshot.stats();
      const m = snapshot.manifest;
      return {
        generation: s.version,
        engine: 'hnswlib',
        capabilities: LOCAL_CAPABILITIES,
        createdAt: m.createdAt,
        model: { id: m.model.id, weightsHash: m.model.weightsHash },
        dim: s.dim,
        metric: s.metric,
        normalized: m.normalized,
        images: s.images,
        identities: s.identities,
        deleted: s.deleted,
        liveAdded: s.liveAdded,
        liveDeleted: s.liveDeleted,
        journalSeq: s.journalSeq,
        params: { M: s.M, efConstruction: s.efConstruction, ef: s.ef },
        build: { mode: m.build.mode, reason: m.build.reason, seconds: m.build.seconds },
      };
    },
    // hnswlib searches synchronously; the promise is the interface's, for engines that are not local.
    search: async (vector, k, options) => snapshot.search(vector, k, options),
    identities: async (after, limit) => snapshot.catalogue.page(after, limit),
    image: async (key) => snapshot.find(key),
  };
}

/**
 * @example
 * const store = new LocalHnswStore({ indexDir: 'index', expect, gallery: new GalleryStore('gallery'), embedder, log });
 * await store.start();                        // 'swapped' when CURRENT named a good snapshot
 * const hits = await store.reader()?.search(vector, 5, { level: 'identity' });
 */
export class LocalHnswStore implements VectorStore {
  readonly engine = 'hnswlib' as const;
  readonly capabilities = LOCAL_CAPABILITIES;
  private started = false;
  private snapshot: LiveSnapshot | null = null;
  private served: StoreReader | null = null;
  private readonly tracker: ReloadTracker;
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private closed = false;
  /** Serialises swaps, enrolments and deletions. */
  private mutations: Promise<unknown> = Promise.resolve();
  /** The running re-index of this process, if any (the index lock covers other processes). */
  private reindexing: Promise<IndexRunSummary | null> | null = null;

  constructor(private readonly options: LocalStoreOptions) {
    this.tracker = new ReloadTracker(options.log, { where: options.indexDir, expectedModel: options.expect.modelId, buildCommand: options.buildCommand });
  }

  get gallery(): GalleryStore {
    return this.options.gallery;
  }

  reader(): StoreReader | null {
    return this.served;
  }

  status(): StoreStatus {
    return this.tracker.status(this.snapshot?.version ?? null);
  }

  onReload(listener: (outcome: ReloadOutcome, generation: string | null) => void): () => void {
    return this.tracker.onReload(listener);
  }

  /**
   * Loads the current snapshot (if any; a missing or refused one leaves the store not ready)
   * and starts watching for new ones.
   */
  async start(): Promise<ReloadOutcome> {
    this.started = true;
    const outcome = await this.reload();
    this.startWatching();
    return outcome;
  }

  /**
   * Checks CURRENT and, if it names a version other than the one serving (and not one already
   * refused, unless `force`), opens, verifies, catches up and swaps it in.
   *
   * @example
   * await store.reload() // 'swapped' | 'unchanged' | 'refused' | 'no-index'
   */
  reload(options: { force?: boolean } = {}): Promise<ReloadOutcome> {
    return this.tracker.serial(() => this.reloadNow(options.force ?? false));
  }

  private async reloadNow(force: boolean): Promise<ReloadOutcome> {
    if (this.closed) return 'unchanged';
    const { indexDir, log } = this.options;
    let version: string | null;
    try {
      version = await readCurrent(indexDir);
    } catch (error) {
      return this.refuse('(CURRENT)', error);
    }
    this.tracker.noIndex = version === null;
    if (version === null) return this.snapshot === null ? 'no-index' : 'unchanged';
    if (version === this.snapshot?.version && !force) return 'unchanged';
    if (!force && version === this.tracker.refused?.generation) return 'refused';

    let next: LiveSnapshot;
    try {
      next = await openSnapshot(indexDir, { version, expect: this.options.expect, ef: this.options.ef });
    } catch (error) {
      return this.refuse(version, error);
    }
    try {
      await this.serial(async () => {
        await catchUp(next, this.options.gallery, this.options.embedder);
        const previous = this.snapshot?.version ?? null;
        this.snapshot = next;
        this.served = snapshotReader(next);
        const s = next.stats();
        log.info({ version, previous, images: s.images, identities: s.identities, liveAdded: s.liveAdded, liveDeleted: s.liveDeleted }, 'index snapshot swapped in');
      });
    } catch (error) {
      return this.refuse(version, error);
    }
    return this.tracker.swapped(version);
  }

  private refuse(version: string, error: unknown): ReloadOutcome {
    const code = error instanceof IndexError ? error.code : ((error as { code?: string }).code ?? 'ERROR');
    const message = error instanceof Error ? error.message : String(error);
    const builtWith = error instanceof IndexError ? error.builtWith : undefined;
    return this.tracker.refuse(version, String(code), message, this.snapshot?.version ?? null, builtWith);
  }

  private startWatching(): void {
    const { pollMs = 5000 } = this.options;
    if (this.options.watch ?? true) this.tryWatch();
    if (pollMs > 0) {
      this.poller = setInterval(() => {
        if (!this.watcher && (this.options.watch ?? true)) this.tryWatch();
        void this.reload().catch(() => undefined);
      }, pollMs);
      this.poller.unref();
    }
  }

  private tryWatch(): void {
    try {
      // Watch the folder, not the file: CURRENT is replaced by a rename, which a file watch loses.
      this.watcher = watch(this.options.indexDir, { persistent: false }, (_event, filename) => {
        if (filename !== null && filename !== 'CURRENT') return;
        if (this.debounce) clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload().catch(() => undefined), 25);
        this.debounce.unref();
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = null;
      });
    } catch {
      this.watcher = null; // the index folder does not exist yet: the poll retries
    }
  }

  /**
   * Enrols images for an identity: stored durably (blobs, then an fsynced journal line), then
   * added to the served snapshot so the next search finds them. Images the identity already has
   * (same bytes) are not added twice.
   */
  enrol(identity: string, images: readonly EnrolImage[]): Promise<EnrolResult> {
    return this.serial(async () => {
      const snapshot = this.requireSnapshot();
      const vectorBySha = new Map<string, Float32Array>();
      const { entries } = await this.options.gallery.enrol(identity, images.map((i) => i.bytes));
      for (const image of images) vectorBySha.set(sha256Bytes(image.bytes), image.vector);
      const fresh = entries.filter((e) => !snapshot.catalogue.hasSource('enrolment', e.source));
      if (fresh.length > 0) {
        const vectors = new Float32Array(fresh.length * snapshot.dim);
        fresh.forEach((e, i) => vectors.set(vectorBySha.get(e.sha256) as Float32Array, i * snapshot.dim));
        snapshot.addLive(fresh.map(({ identity: id, origin, source, sha256, size }) => ({ identity: id, origin, source, sha256, size })), vectors);
      }
      const ids = entries.map((e) => imageId(identity, e.sha256));
      return { ids, added: fresh.length, duplicates: images.length - fresh.length, images: snapshot.catalogue.count(identity), entries };
    });
  }

  /** Deletes an identity durably (journal) and from the served snapshot; resolves how many images it had. */
  deleteIdentity(identity: string): Promise<number> {
    return this.serial(async () => {
      const snapshot = this.requireSnapshot();
      const { removed } = await this.options.gallery.deleteIdentity(identity);
      const live = snapshot.deleteLive(identity);
      return Math.max(removed.length, live);
    });
  }

  /** The bytes behind a catalogue entry (folder file or enrolled blob), only if they still hash to what was indexed. */
  async imageBytes(entry: CatalogueEntry): Promise<Uint8Array | undefined> {
    const gallery = this.options.gallery;
    const path = entry.origin === 'folder' ? join(gallery.root, ...entry.source.split('/')) : gallery.blobPath(entry.sha256);
    const bytes = await readFile(path).catch(() => undefined);
    // A folder file may have changed since indexing: never show other bytes than the ones indexed.
    return bytes && sha256Bytes(bytes) === entry.sha256 ? bytes : undefined;
  }

  /**
   * The nightly job: re-index (embedding only what changed), publish the new snapshot, then (once
   * started) swap it in. One run at a time in this process; resolves null when another process
   * holds the lock.
   */
  reindex(options: ReindexOptions = {}): Promise<IndexRunSummary | null> {
    this.reindexing ??= (async () => {
      const { log } = this.options;
      try {
        const summary = await runIndex({
          ...this.options.reindex,
          mode: 'reindex',
          onWarning: (m) => log.warn(m),
          ...definedOnly(options),
          params: { ...this.options.reindex?.params, ...options.params },
          indexDir: this.options.indexDir,
          store: this.options.gallery,
          embedder: this.options.embedder,
        });
        log.info({ version: summary.version, mode: summary.mode, added: summary.added, removed: summary.removed, changed: summary.changed, seconds: summary.seconds }, 're-index done');
        if (this.started) await this.reload();
        return summary;
      } catch (error) {
        if (isIndexError(error, 'LOCKED')) {
          log.warn({ code: 'LOCKED', err: error.message }, 're-index skipped: another run holds the index lock');
          return null;
        }
        log.error({ err: (error as Error).message }, 're-index failed; the current snapshot keeps serving');
        throw error;
      } finally {
        this.reindexing = null;
      }
    })();
    return this.reindexing;
  }

  private requireSnapshot(): LiveSnapshot {
    if (!this.snapshot) throw new IndexError('NO_CURRENT', 'no index is loaded');
    return this.snapshot;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.mutations.then(task, task);
    this.mutations = run.catch(() => undefined);
    return run;
  }

  /** Stops watching and waits for a running reload, re-index or mutation. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
    await this.reindexing?.catch(() => undefined);
    await this.tracker.settled();
    await this.mutations.catch(() => undefined);
  }
}
