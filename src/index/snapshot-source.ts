/**
 * Where the local store's snapshots come from and go to: an index folder on disk, or an
 * `s3://bucket/prefix` index in object storage. The store asks a source what CURRENT names,
 * for a local folder it can open that snapshot from, and to build and publish a new one; it
 * never touches files or buckets itself.
 *
 * - On disk (`DiskSnapshots`): CURRENT is a file, the folder is the index folder, the index job
 *   runs under index/.lock (reindex.ts).
 * - In object storage (`ObjectSnapshotSource`): CURRENT is read by ETag, a snapshot is downloaded
 *   into the instance's scratch space and verified (src/storage/snapshots.ts), and a re-index
 *   builds on a downloaded copy of CURRENT's snapshot and publishes with a conditional write,
 *   building again on the winner when another publisher got there first.
 */
import { watch, type FSWatcher } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isObjectUri } from '../storage/location.js';
import { scratchPath, uniqueName } from '../storage/scratch.js';
import { ObjectSnapshots, type FetchTimings, type PruneOptions, type SnapshotRecord } from '../storage/snapshots.js';
import { IndexError } from './errors.js';
import { runIndex, type IndexRunOptions, type IndexRunSummary } from './reindex.js';
import { readCurrent } from './snapshot.js';

/** What CURRENT names: a version, and an id that differs whenever the snapshot does. */
export interface SnapshotRef {
  version: string;
  id: string;
  /** Object storage: the snapshot's record (its files). */
  record?: SnapshotRecord;
}

/** A snapshot ready to open from a local folder; `release` removes what was fetched for it. */
export interface LocalSnapshot {
  indexDir: string;
  /** Object storage: what fetching it took (files from the cache cost nothing). */
  fetch?: FetchTimings;
  release(): Promise<void>;
}

export type PublishOptions = Omit<IndexRunOptions, 'indexDir'>;

export interface SnapshotSource {
  /** The index folder or URI, for messages. */
  readonly where: string;
  /** What CURRENT names, or null when nothing was published. */
  current(): Promise<SnapshotRef | null>;
  /** A local folder holding `ref`'s snapshot for `openSnapshot(indexDir, { version })`. */
  local(ref: SnapshotRef): Promise<LocalSnapshot>;
  /** Calls `onChange` when CURRENT may have changed; null when the source can only be polled. */
  watch(onChange: () => void): { close(): void } | null;
  /** Builds a new snapshot (embedding only what changed) and publishes it. */
  publish(options: PublishOptions): Promise<IndexRunSummary>;
}

/**
 * @example
 * const source = snapshotSource('s3://twinsearch/index/faces'); // or a folder: snapshotSource('index/faces')
 */
export function snapshotSource(indexDir: string): SnapshotSource {
  return isObjectUri(indexDir) ? new ObjectSnapshotSource(indexDir) : new DiskSnapshots(indexDir);
}

/** An index folder on disk (snapshot.ts has the layout). */
export class DiskSnapshots implements SnapshotSource {
  constructor(readonly where: string) {}

  async current(): Promise<SnapshotRef | null> {
    const version = await readCurrent(this.where);
    return version === null ? null : { version, id: version };
  }

  async local(): Promise<LocalSnapshot> {
    return { indexDir: this.where, release: async () => undefined };
  }

  watch(onChange: () => void): { close(): void } | null {
    let watcher: FSWatcher;
    try {
      // Watch the folder, not the file: CURRENT is replaced by a rename, which a file watch loses.
      watcher = watch(this.where, { persistent: false }, (_event, filename) => {
        if (filename === null || filename === 'CURRENT') onChange();
      });
    } catch {
      return null; // the index folder does not exist yet: polling finds it
    }
    watcher.on('error', () => watcher.close());
    return watcher;
  }

  publish(options: PublishOptions): Promise<IndexRunSummary> {
    return runIndex({ ...options, indexDir: this.where });
  }
}

/** How many times a publisher builds again after losing CURRENT to another publisher. */
const PUBLISH_ATTEMPTS = 5;

/** An index in object storage (src/storage/snapshots.ts has the layout and the rules). */
export class ObjectSnapshotSource implements SnapshotSource {
  readonly snapshots: ObjectSnapshots;
  /** The last snapshot opened before this one (its files stay cached for a quick swap back). */
  private previous: SnapshotRecord | null = null;

  constructor(
    readonly where: string,
    private readonly prune: Omit<PruneOptions, 'keep'> = {},
  ) {
    this.snapshots = new ObjectSnapshots(where);
  }

  async current(): Promise<SnapshotRef | null> {
    const current = await this.snapshots.current();
    return current && { version: current.record.version, id: current.record.id, record: current.record };
  }

  async local(ref: SnapshotRef): Promise<LocalSnapshot> {
    const { record } = ref;
    if (!record) throw new RangeError('ObjectSnapshotSource.local takes a ref from its own current()');
    const into = scratchPath('open', uniqueName());
    const { indexDir, timings } = await this.snapshots.fetch(record, into);
    // Scratch space is small (512 MB by default on AWS Lambda): cache this snapshot's and the previous one's files only.
    const keep = new Set([record, this.previous].flatMap((r) => (r ? Object.values(r.files).map((f) => f.sha256) : [])));
    this.previous = record;
    await this.snapshots.cache.retain(keep);
    return { indexDir, fetch: timings, release: () => rm(into, { recursive: true, force: true }) };
  }

  watch(): null {
    return null;
  }

  /**
   * CURRENT's snapshot as the base to build on. One that cannot be fetched intact fails a
   * re-index (as a damaged index folder does), and is built over from scratch by a full build.
   */
  private async fetchBase(record: SnapshotRecord, stage: string, options: PublishOptions): Promise<void> {
    try {
      await this.snapshots.fetch(record, stage);
    } catch (error) {
      const damaged = error instanceof IndexError && (error.code === 'CORRUPT_SNAPSHOT' || error.code === 'NO_SNAPSHOT');
      if (!damaged) throw error;
      if (options.mode !== 'build') {
        throw new IndexError(error.code, `current snapshot ${record.version} cannot be re-indexed: ${error.message}. Run a full build (npm run index -- --out ${this.where}) to replace it`, { cause: error });
      }
      options.onWarning?.(`previous snapshot ${record.version} is unusable (${error.message}); building from scratch`);
    }
  }

  /**
   * Builds on a downloaded copy of CURRENT's snapshot, publishes with a conditional write, and
   * when another publisher moved CURRENT first, builds again on that one (up to 5 times, then
   * `CONFLICT`). Prunes what no reader can need any more after a publish.
   */
  async publish(options: PublishOptions): Promise<IndexRunSummary> {
    const warn = options.onWarning ?? (() => undefined);
    for (let attempt = 1; attempt <= PUBLISH_ATTEMPTS; attempt++) {
      const base = await this.snapshots.current();
      const stage = scratchPath('stage', uniqueName());
      try {
        if (base) await this.fetchBase(base.record, stage, options);
        const summary = await runIndex({ ...options, indexDir: stage, keep: 1 });
        const outcome = await this.snapshots.publish(join(stage, summary.version), base);
        if (outcome.published) {
          const pruned = await this.snapshots.prune({ ...this.prune, keep: options.keep }).catch((error: Error) => {
            warn(`pruning ${this.where} failed (nothing was lost; the next run tries again): ${error.message}`);
            return { files: [], records: [] };
          });
          return { ...summary, pruned: pruned.records.map((name) => name.replace(/^snapshots\//, '').replace(/\..*$/, '')) };
        }
        warn(`another publisher moved ${this.where}/CURRENT to ${outcome.current?.record.version ?? 'nothing'} first: building again on it (attempt ${attempt + 1} of ${PUBLISH_ATTEMPTS})`);
      } finally {
        await rm(stage, { recursive: true, force: true });
      }
    }
    throw new IndexError('CONFLICT', `${this.where}: other publishers moved CURRENT ${PUBLISH_ATTEMPTS} times while this run was building; nothing was published by this run`);
  }
}
