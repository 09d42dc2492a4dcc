/**
 * The local vector store: immutable HNSW snapshots (CURRENT names the published one), one loaded
 * per serving instance, with the gallery store's journal replayed on top. It is the only code
 * that replaces the served snapshot or changes it.
 *
 * Where snapshots live is a `SnapshotSource` (snapshot-source.ts): an index folder on disk, or an
 * `s3://` index in object storage (downloaded into scratch space and verified before opening).
 *
 * Hot reload: when CURRENT names a new snapshot (fs.watch on a folder, and a periodic check
 * because watch events can be lost and object storage can only be polled), the new snapshot is
 * opened and verified into a NEW instance off the request path (`openSnapshot`: checksums, model,
 * dimension, graph), caught up with the journal (`catchUp`), and only then swapped in. A request
 * takes a reader (the served instance) once, so requests in flight finish on the old instance and
 * none ever sees a half-loaded one. A snapshot that fails verification is refused (remembered,
 * logged, reported by `status()`) and the old one keeps serving; one that could not be downloaded
 * is tried again at the next check.
 *
 * Enrolments and deletions go through here too: durably into the gallery store first, then into
 * the served instance in journal order (records other instances wrote before ours first), under
 * one mutex shared with the swap, so no change can fall between the journal read of a catch-up
 * and the swap. Other instances see them when they next read the journal: at every poll when the
 * journal is in object storage (shared by all instances), at their next swap otherwise.
 * `capabilities.sharedWrites` stays false: not at once, within one poll interval.
 */
import type { Embedder } from '../embedding/index.js';
import { sha256Bytes } from './checksums.js';
import type { CatalogueEntry } from './catalogue.js';
import { IndexError, isIndexError } from './errors.js';
import { catchUp } from './live.js';
import { openSnapshot, type LiveSnapshot } from './live-snapshot.js';
import { definedOnly, type IndexRunOptions, type IndexRunSummary } from './reindex.js';
import { snapshotSource, type SnapshotSource } from './snapshot-source.js';
import type { FetchTimings } from '../storage/snapshots.js';
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
  /** The index folder, or an s3://bucket/prefix index in object storage. */
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
  /** Poll CURRENT (and a journal in object storage) every this many ms; 0 = no polling. Default 5000. */
  pollMs?: number;
  /** Watch the index folder for CURRENT changes. Default true. */
  watch?: boolean;
  /** The command that builds this model's index, shown when there is none or it belongs to another model. */
  buildCommand?: string;
  /** Options of the re-index `reindex()` runs (graph parameters, snapshots kept). */
  reindex?: Pick<IndexRunOptions, 'params' | 'keep' | 'maxDeletedFraction'>;
}

/** Searches run in this process: each sees the writes before it; other processes see them at their next journal read. */
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

/** How the served snapshot was loaded: fetched (object storage), opened and verified, caught up. */
export interface LoadTimings {
  version: string;
  /** Object storage only: files downloaded now, their bytes, and the time downloading and verifying them took. */
  fetch?: FetchTimings;
  /** openSnapshot: checksums, manifest, graph. */
  openMs: number;
  catchUpMs: number;
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
  /** How the served snapshot was loaded (null until one is). */
  lastLoad: LoadTimings | null = null;
  private readonly source: SnapshotSource;
  private started = false;
  private snapshot: LiveSnapshot | null = null;
  /** The id of the served snapshot (its version on disk; its content id in object storage). */
  private servedId: string | null = null;
  /** The last journal record applied to the served snapshot. */
  private appliedSeq = 0;
  private served: StoreReader | null = null;
  private readonly tracker: ReloadTracker;
  private watcher: { close(): void } | null = null;
  private poller: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private closed = false;
  /** Serialises swaps, enrolments, deletions and journal catch-ups. */
  private mutations: Promise<unknown> = Promise.resolve();
  /** The running re-index of this process, if any (the index lock or the conditional publish covers other processes). */
  private reindexing: Promise<IndexRunSummary | null> | null = null;

  constructor(private readonly options: LocalStoreOptions) {
    this.source = snapshotSource(options.indexDir);
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
   * Checks CURRENT and, if it names a snapshot other than the one serving (and not one already
   * refused, unless `force`), fetches, opens, verifies, catches up and swaps it in.
   *
   * @example
   * await store.reload() // 'swapped' | 'unchanged' | 'refused' | 'no-index'
   */
  reload(options: { force?: boolean } = {}): Promise<ReloadOutcome> {
    return this.tracker.serial(() => this.reloadNow(options.force ?? false));
  }

  private async reloadNow(force: boolean): Promise<ReloadOutcome> {
    if (this.closed) return 'unchanged';
    const { log } = this.options;
    let ref;
    try {
      ref = await this.source.current();
    } catch (error) {
      return this.refuse(CURRENT_CHECK, error);
    }
    this.tracker.clearRefusal(CURRENT_CHECK);
    this.tracker.noIndex = ref === null;
    if (ref === null) return this.snapshot === null ? 'no-index' : 'unchanged';
    if (ref.id === this.servedId && !force) return 'unchanged';
    const refused = this.tracker.refused;
    // A snapshot that failed verification stays refused; one that could not be fetched is tried again.
    if (!force && ref.version === refused?.generation && refused.code !== 'UNAVAILABLE') return 'refused';

    let next: LiveSnapshot;
    let fetched;
    const t0 = performance.now();
    try {
      const local = await this.source.local(ref);
      fetched = local.fetch;
      try {
        next = await openSnapshot(local.indexDir, { version: ref.version, expect: this.options.expect, ef: this.options.ef });
      } finally {
        // The instance holds everything it needs in memory now.
        await local.release();
      }
    } catch (error) {
      return this.refuse(ref.version, error);
    }
    const opened = performance.now();
    const version = ref.version;
    try {
      await this.serial(async () => {
        const caught = await catchUp(next, this.options.gallery, this.options.embedder);
        const previous = this.snapshot?.version ?? null;
        this.snapshot = next;
        this.served = snapshotReader(next);
        this.servedId = ref.id;
        this.appliedSeq = caught.journalSeq;
        const s = next.stats();
        this.lastLoad = { version, ...(fetched ? { fetch: fetched } : {}), openMs: opened - t0 - (fetched ? fetched.downloadMs + fetched.verifyMs : 0), catchUpMs: performance.now() - opened };
        log.info({ version, previous, images: s.images, identities: s.identities, liveAdded: s.liveAdded, liveDeleted: s.liveDeleted, load: this.lastLoad }, 'index snapshot swapped in');
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

  /**
   * Applies the journal records other instances appended since the last read (object storage:
   * the journal is shared). Each record is applied once, in order.
   */
  followJournal(): Promise<void> {
    if (!this.options.gallery.sharedJournal || this.closed) return Promise.resolve();
    return this.serial(async () => {
      const snapshot = this.snapshot;
      if (!snapshot) return;
      await this.catchUpTo(snapshot);
    });
  }

  /** Replays records after `appliedSeq` (up to `until`) into the served snapshot; call under the mutex. */
  private async catchUpTo(snapshot: LiveSnapshot, until?: number): Promise<void> {
    if (until !== undefined && until <= this.appliedSeq) return;
    await catchUp(snapshot, this.options.gallery, this.options.embedder, this.appliedSeq, {
      until,
      onRecord: (seq) => {
        if (this.snapshot === snapshot) this.appliedSeq = seq;
      },
    });
  }

  private startWatching(): void {
    const { pollMs = 5000 } = this.options;
    const watching = this.options.watch ?? true;
    if (watching) this.tryWatch();
    if (pollMs > 0) {
      this.poller = setInterval(() => {
        if (!this.watcher && watching) this.tryWatch();
        void this.reload()
          .then(() => this.followJournal())
          .catch((error: Error) => this.options.log.warn({ err: error.message }, 'reading the shared journal failed; retrying at the next check'));
      }, pollMs);
      this.poller.unref();
    }
  }

  private tryWatch(): void {
    this.watcher = this.source.watch(() => {
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void this.reload().catch(() => undefined), 25);
      this.debounce.unref();
    });
  }

  /**
   * Enrols images for an identity: stored durably (blobs, then a journal record), then added to
   * the served snapshot so the next search finds them (after any records other instances
   * appended before this one). Images the identity already has (same bytes) are not added twice.
   */
  enrol(identity: string, images: readonly EnrolImage[]): Promise<EnrolResult> {
    return this.serial(async () => {
      const snapshot = this.requireSnapshot();
      const vectorBySha = new Map<string, Float32Array>();
      const { seq, entries } = await this.options.gallery.enrol(identity, images.map((i) => i.bytes));
      await this.catchUpTo(snapshot, seq - 1);
      for (const image of images) vectorBySha.set(sha256Bytes(image.bytes), image.vector);
      const fresh = entries.filter((e) => !snapshot.catalogue.hasSource('enrolment', e.source));
      if (fresh.length > 0) {
        const vectors = new Float32Array(fresh.length * snapshot.dim);
        fresh.forEach((e, i) => vectors.set(vectorBySha.get(e.sha256) as Float32Array, i * snapshot.dim));
        snapshot.addLive(fresh.map(({ identity: id, origin, source, sha256, size }) => ({ identity: id, origin, source, sha256, size })), vectors);
      }
      this.appliedSeq = Math.max(this.appliedSeq, seq);
      const ids = entries.map((e) => imageId(identity, e.sha256));
      return { ids, added: fresh.length, duplicates: images.length - fresh.length, images: snapshot.catalogue.count(identity), entries };
    });
  }

  /** Deletes an identity durably (journal) and from the served snapshot; resolves how many images it had. */
  deleteIdentity(identity: string): Promise<number> {
    return this.serial(async () => {
      const snapshot = this.requireSnapshot();
      const { seq, removed } = await this.options.gallery.deleteIdentity(identity);
      if (seq !== null) await this.catchUpTo(snapshot, seq - 1);
      const live = snapshot.deleteLive(identity);
      if (seq !== null) this.appliedSeq = Math.max(this.appliedSeq, seq);
      return Math.max(removed.length, live);
    });
  }

  /** The bytes behind a catalogue entry (folder file or enrolled blob), only if they still hash to what was indexed. */
  imageBytes(entry: CatalogueEntry): Promise<Uint8Array | undefined> {
    return this.options.gallery.imageBytes(entry);
  }

  /**
   * The nightly job: re-index (embedding only what changed), publish the new snapshot, then (once
   * started) swap it in. One run at a time in this process; resolves null when another process
   * holds the lock (on disk). In object storage, runs in other processes publish conditionally
   * and the loser builds again on the winner's snapshot.
   */
  reindex(options: ReindexOptions = {}): Promise<IndexRunSummary | null> {
    this.reindexing ??= (async () => {
      const { log } = this.options;
      try {
        const summary = await this.source.publish({
          ...this.options.reindex,
          mode: 'reindex',
          onWarning: (m) => log.warn(m),
          ...definedOnly(options),
          params: { ...this.options.reindex?.params, ...options.params },
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

/** The name a failed read of CURRENT itself is refused under (no version is known then). */
const CURRENT_CHECK = '(CURRENT)';
