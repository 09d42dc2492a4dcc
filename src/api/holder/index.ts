/**
 * The index holder: the one reference to the open index that requests search, and the only
 * code that replaces it or changes it.
 *
 * Hot reload: when index/CURRENT names a new version (fs.watch on the folder, and a periodic
 * check because watch events can be lost), the new snapshot is opened and verified into a NEW
 * instance off the request path (`openSnapshot`: checksums, model, dimension, graph), caught up
 * with the gallery store's journal (`catchUp`), and only then swapped in. A request reads
 * `holder.current` once and searches it synchronously, so requests in flight finish on the old
 * instance and no request ever sees a half-loaded one. A snapshot that fails verification is
 * refused (remembered, logged, reported by `/readyz` and `/metrics`) and the old one keeps serving.
 *
 * Enrolments and deletions go through here too: durably into the store first, then into the
 * live instance, under one mutex shared with the swap, so no change can fall between the
 * journal read of a catch-up and the swap.
 */
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { sha256Bytes } from '../../index/checksums.js';
import type { Embedder } from '../../index/embedder.js';
import { IndexError } from '../../index/errors.js';
import { catchUp } from '../../index/live.js';
import { openSnapshot, type Expectation, type OpenIndex } from '../../index/open.js';
import { readCurrent } from '../../index/snapshot.js';
import type { GalleryEntry, GalleryStore } from '../../index/store.js';
import type { Logger } from '../log.js';
import { Catalogue } from './catalogue.js';

export interface IndexHolderOptions {
  indexDir: string;
  /** What the serving model needs from a snapshot (dimension, metric, model id and weights). */
  expect: Expectation;
  /** Search ef; default the snapshot's. */
  ef?: number;
  store: GalleryStore;
  /** Embeds enrolled images found in the journal after a swap (catch-up). */
  embedder: Embedder;
  log: Logger;
  /** Poll CURRENT every this many ms as a fallback to fs.watch; 0 = no polling. */
  pollMs?: number;
  /** Watch index/ for CURRENT changes. Default true. */
  watch?: boolean;
}

export interface RefusedSnapshot {
  version: string;
  code: string;
  message: string;
  at: string;
}

export type ReloadOutcome = 'swapped' | 'unchanged' | 'refused' | 'no-index';

export interface HolderStatus {
  ready: boolean;
  version: string | null;
  loadedAt: string | null;
  /** The last snapshot that failed verification (while a good one may still serve). */
  refused: RefusedSnapshot | null;
  swaps: number;
  reloadFailures: number;
  lastCheckAt: string | null;
}

/** One image to enrol: its bytes (stored durably) and its embedding (added live). */
export interface EnrolImage {
  bytes: Uint8Array;
  vector: Float32Array;
}

export class IndexHolder {
  private index: OpenIndex | null = null;
  private catalogue_: Catalogue | null = null;
  private loadedAt: string | null = null;
  private refused: RefusedSnapshot | null = null;
  private swaps = 0;
  private reloadFailures = 0;
  private lastCheckAt: string | null = null;
  private watcher: FSWatcher | null = null;
  private poller: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private closed = false;
  /** Serialises reloads (one open at a time). */
  private reloads: Promise<unknown> = Promise.resolve();
  /** Serialises swaps, enrolments and deletions. */
  private mutations: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<(outcome: ReloadOutcome, version: string | null) => void>();

  constructor(private readonly options: IndexHolderOptions) {}

  /** The index requests search (null until one is loaded). Read it once per request. */
  get current(): OpenIndex | null {
    return this.index;
  }

  get catalogue(): Catalogue | null {
    return this.catalogue_;
  }

  get store(): GalleryStore {
    return this.options.store;
  }

  status(): HolderStatus {
    return {
      ready: this.index !== null,
      version: this.index?.version ?? null,
      loadedAt: this.loadedAt,
      refused: this.refused,
      swaps: this.swaps,
      reloadFailures: this.reloadFailures,
      lastCheckAt: this.lastCheckAt,
    };
  }

  /** Called after every reload attempt that did something (tests, metrics). */
  onReload(listener: (outcome: ReloadOutcome, version: string | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Loads the current snapshot (if any; a missing or refused one leaves the holder not ready)
   * and starts watching for new ones.
   *
   * @example
   * const holder = new IndexHolder({ indexDir: 'index', expect, store, embedder, log });
   * await holder.start(); holder.status().ready // true when CURRENT named a good snapshot
   */
  async start(): Promise<ReloadOutcome> {
    const outcome = await this.reload();
    this.startWatching();
    return outcome;
  }

  /**
   * Checks CURRENT and, if it names a version other than the one serving (and not one already
   * refused, unless `force`), opens, verifies, catches up and swaps it in.
   *
   * @example
   * await holder.reload() // 'swapped' | 'unchanged' | 'refused' | 'no-index'
   */
  reload(options: { force?: boolean } = {}): Promise<ReloadOutcome> {
    const run = this.reloads.then(() => this.reloadNow(options.force ?? false));
    this.reloads = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(force: boolean): Promise<ReloadOutcome> {
    if (this.closed) return 'unchanged';
    const { indexDir, log } = this.options;
    this.lastCheckAt = new Date().toISOString();
    let version: string | null;
    try {
      version = await readCurrent(indexDir);
    } catch (error) {
      return this.refuse('(CURRENT)', error);
    }
    if (version === null) {
      if (this.index === null) return 'no-index';
      return 'unchanged';
    }
    if (version === this.index?.version) return 'unchanged';
    if (!force && version === this.refused?.version) return 'refused';

    let next: OpenIndex;
    try {
      next = await openSnapshot(indexDir, { version, expect: this.options.expect, ef: this.options.ef });
    } catch (error) {
      return this.refuse(version, error);
    }
    try {
      await this.serial(async () => {
        const catalogue = Catalogue.fromEntries(next.manifest.entries);
        await catchUp(observe(next, catalogue), this.options.store, this.options.embedder);
        const previous = this.index?.version ?? null;
        this.index = next;
        this.catalogue_ = catalogue;
        this.loadedAt = new Date().toISOString();
        this.swaps++;
        if (this.refused && this.refused.version !== version) this.refused = null;
        const s = next.stats();
        log.info({ version, previous, images: s.images, identities: s.identities, liveAdded: s.liveAdded, liveDeleted: s.liveDeleted }, 'index snapshot swapped in');
      });
    } catch (error) {
      return this.refuse(version, error);
    }
    this.emit('swapped', version);
    return 'swapped';
  }

  private refuse(version: string, error: unknown): ReloadOutcome {
    const code = error instanceof IndexError ? error.code : ((error as { code?: string }).code ?? 'ERROR');
    const message = error instanceof Error ? error.message : String(error);
    this.refused = { version, code: String(code), message, at: new Date().toISOString() };
    this.reloadFailures++;
    this.options.log.error({ version, code, err: message, serving: this.index?.version ?? null }, 'index snapshot refused; the previous one keeps serving');
    this.emit('refused', version);
    return 'refused';
  }

  private emit(outcome: ReloadOutcome, version: string | null): void {
    for (const l of this.listeners) {
      try {
        l(outcome, version);
      } catch {
        /* a listener's failure is not the holder's */
      }
    }
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
      this.watcher = null; // index/ does not exist yet: the poll retries
    }
  }

  /**
   * Enrols images for an identity: stored durably (blobs, then an fsynced journal line), then
   * added to the live index so the next search finds them. Images already enrolled for this
   * identity (same bytes) are not added twice.
   *
   * @example
   * await holder.enrol('alice', [{ bytes, vector }]) // { added: 1, duplicates: 0, images: 4 }
   */
  enrol(identity: string, images: readonly EnrolImage[]): Promise<{ added: number; duplicates: number; images: number; entries: GalleryEntry[] }> {
    return this.serial(async () => {
      const index = this.requireIndex();
      const catalogue = this.catalogue_ as Catalogue;
      const vectorBySha = new Map<string, Float32Array>();
      const { entries } = await this.options.store.enrol(identity, images.map((i) => i.bytes));
      for (const image of images) vectorBySha.set(sha256Bytes(image.bytes), image.vector);
      const fresh = entries.filter((e) => !catalogue.hasSource('enrolment', e.source));
      if (fresh.length > 0) {
        const dim = index.dim;
        const vectors = new Float32Array(fresh.length * dim);
        fresh.forEach((e, i) => vectors.set(vectorBySha.get(e.sha256) as Float32Array, i * dim));
        const entriesOut = fresh.map(({ identity: id, origin, source, sha256, size }) => ({ identity: id, origin, source, sha256, size }));
        const labels = index.addLive(entriesOut, vectors);
        entriesOut.forEach((e, i) => catalogue.add({ ...e, label: labels[i] }));
      }
      return { added: fresh.length, duplicates: images.length - fresh.length, images: catalogue.count(identity), entries };
    });
  }

  /**
   * Deletes an identity durably (journal) and from the live index. Resolves the number of
   * images removed; 0 means the identity was unknown.
   *
   * @example
   * await holder.deleteIdentity('alice') // 4
   */
  deleteIdentity(identity: string): Promise<number> {
    return this.serial(async () => {
      const index = this.requireIndex();
      const { removed } = await this.options.store.deleteIdentity(identity);
      const live = index.deleteLive(identity);
      this.catalogue_?.deleteIdentity(identity);
      return Math.max(removed.length, live);
    });
  }

  private requireIndex(): OpenIndex {
    if (!this.index) throw new IndexError('NO_CURRENT', 'no index is loaded');
    return this.index;
  }

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.mutations.then(task, task);
    this.mutations = run.catch(() => undefined);
    return run;
  }

  /** Stops watching and waits for a running reload or mutation. */
  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    this.watcher = null;
    if (this.poller) clearInterval(this.poller);
    if (this.debounce) clearTimeout(this.debounce);
    await this.reloads.catch(() => undefined);
    await this.mutations.catch(() => undefined);
  }
}

/**
 * The same index, with its live changes mirrored into `catalogue` (catchUp changes the index
 * through `addLive` / `deleteLive`; the catalogue must see exactly those changes and labels).
 */
function observe(index: OpenIndex, catalogue: Catalogue): OpenIndex {
  return new Proxy(index, {
    get(target, property) {
      if (property === 'addLive') {
        return (entries: Parameters<OpenIndex['addLive']>[0], vectors: Float32Array): number[] => {
          const labels = target.addLive(entries, vectors);
          entries.forEach((e, i) => catalogue.add({ identity: e.identity, origin: e.origin, source: e.source, sha256: e.sha256, size: e.size, label: labels[i] }));
          return labels;
        };
      }
      if (property === 'deleteLive') {
        return (identity: string): number => {
          catalogue.deleteIdentity(identity);
          return target.deleteLive(identity);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Where a catalogue entry's bytes are (a folder file or an enrolled blob). */
export function entryPath(store: GalleryStore, entry: { origin: 'folder' | 'enrolment'; source: string; sha256: string }): string {
  return entry.origin === 'folder' ? join(store.root, ...entry.source.split('/')) : store.blobPath(entry.sha256);
}
