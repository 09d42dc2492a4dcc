/**
 * The index job: build (`mode: 'build'`, embed everything) or re-index (`mode: 'reindex'`,
 * embed only what changed) a gallery into a new immutable snapshot, then switch CURRENT.
 *
 * Order of events, each step safe to be killed at:
 *   take index/.lock → read CURRENT's snapshot (verified) → list the gallery (folder + store)
 *   → plan → embed what is new → build the graph (old graph + markDelete + add, or a new graph)
 *   → write index/.tmp-… → rename to index/<version> → switch CURRENT → prune old snapshots → unlock.
 * Until the switch, CURRENT names the previous complete snapshot; a failure leaves it untouched.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IndexError } from './errors.js';
import type { EmbedAllResult, Embedder } from '../embedding/index.js';
import { addRows, createHnsw, DEFAULT_HNSW_PARAMS, loadHnsw, type Hnsw } from './hnsw.js';
import { acquireLock } from './lock.js';
import { entryKey, HNSW_FILE, MANIFEST_FILE, MANIFEST_FORMAT, VECTORS_FILE, type HnswParams, type Manifest } from './manifest.js';
import { readSnapshotData, type SnapshotData } from './snapshot-read.js';
import { DEFAULT_MAX_DELETED_FRACTION, planIndex, type Plan } from './plan.js';
import { allocateVersion, LOCK_FILE, pruneSnapshots, readCurrent, switchCurrent, writeSnapshot } from './snapshot.js';
import type { GalleryStore } from './store.js';
import { vectorsToBytes } from './vectors.js';

export type IndexPhase = 'hash' | 'embed' | 'graph' | 'write';

export interface IndexRunOptions {
  /** The index folder (holds CURRENT and the snapshots). */
  indexDir: string;
  store: GalleryStore;
  embedder: Embedder;
  /** `build`: embed every image (a new baseline). `reindex`: reuse what did not change. */
  mode: 'build' | 'reindex';
  /** Graph and search parameters; unspecified ones come from the previous snapshot, then the defaults. */
  params?: Partial<HnswParams>;
  /** Re-index only: force a new graph (reusing vectors). */
  rebuild?: boolean;
  /** Rebuild the graph when deleted points would pass this fraction. Default 0.2. */
  maxDeletedFraction?: number;
  /** Snapshots to keep (the current one always stays). Default 3. */
  keep?: number;
  onProgress?: (phase: IndexPhase, done: number, total: number) => void;
  onWarning?: (message: string) => void;
  /** Clock, for tests. */
  now?: () => Date;
}

export interface IndexRunSummary {
  version: string;
  parent: string | null;
  mode: Plan['mode'];
  reason: string;
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
  embedded: number;
  /** Images that could not be decoded (left out, retried next run). */
  failed: number;
  /** Face models: images without a face (left out, retried next run) and images with several (largest face indexed). */
  faces?: NonNullable<Manifest['faces']>;
  images: number;
  identities: number;
  deleted: number;
  seconds: number;
  /** Seconds per phase. */
  timings: Record<'list' | 'embed' | 'graph' | 'write', number>;
  pruned: string[];
}

export const DEFAULT_KEEP = 3;

/** The one summary line the CLI prints. */
export function formatSummary(s: IndexRunSummary): string {
  return (
    `${s.version}: ${s.mode} (${s.reason}); added ${s.added}, changed ${s.changed}, removed ${s.removed}, ` +
    `unchanged ${s.unchanged}, embedded ${s.embedded}${s.failed ? `, failed ${s.failed}` : ''}; ` +
    `${s.images} images of ${s.identities} identities in ${s.seconds.toFixed(2)} s${s.faces ? facesSentence(s.faces) : ''}`
  );
}

const listSome = (items: readonly { source: string }[]): string => items.slice(0, 5).map((i) => i.source).join(', ') + (items.length > 5 ? `, and ${items.length - 5} more` : '');

/** The face line of the summary, in words: what was left out and what was chosen. */
function facesSentence(f: NonNullable<Manifest['faces']>): string {
  const none = f.noFace.length ? `${f.noFace.length} image${f.noFace.length === 1 ? '' : 's'} without a face left out (${listSome(f.noFace)})` : 'a face found in every image';
  const several = f.several.length ? `; ${f.several.length} with several faces, the largest indexed (${listSome(f.several)})` : '';
  return `. Faces: ${none}${several}`;
}

/**
 * The face lists of a run: images without a face from this run's embedding, images with several
 * from this run and, for vectors reused from the previous snapshot, from its manifest.
 */
function faceLists(plan: Plan, embedded: EmbedAllResult, previous: SnapshotData | null): NonNullable<Manifest['faces']> {
  const who = (e: { identity: string; origin: 'folder' | 'enrolment'; source: string }) => ({ identity: e.identity, origin: e.origin, source: e.source });
  const reused = new Set(plan.entries.filter((p) => p.vector.from === 'previous').map((p) => entryKey(p.entry)));
  const several = [
    ...(previous?.manifest.faces?.several ?? []).filter((s) => reused.has(entryKey(s))),
    ...(embedded.faces?.several ?? []).map((s) => ({ ...who(plan.toEmbed[s.index]), faces: s.faces })),
  ];
  return { rule: 'largest', noFace: (embedded.faces?.none ?? []).map((i) => who(plan.toEmbed[i])), several };
}

/** The verified current snapshot (null if none), and the version name to record as parent. */
async function loadPrevious(indexDir: string, mode: IndexRunOptions['mode'], warn: (m: string) => void): Promise<{ data: SnapshotData | null; parent: string | null }> {
  let current: string | null;
  try {
    current = await readCurrent(indexDir);
  } catch (error) {
    if (mode !== 'build') throw error;
    warn(`${(error as Error).message}; building from scratch`);
    return { data: null, parent: null };
  }
  if (!current) return { data: null, parent: null };
  try {
    return { data: await readSnapshotData(indexDir, current, { verifyHnsw: true }), parent: current };
  } catch (error) {
    if (mode === 'build') {
      warn(`previous snapshot ${current} is unusable (${(error as Error).message}); building from scratch`);
      return { data: null, parent: current };
    }
    throw new IndexError(
      error instanceof IndexError ? error.code : 'CORRUPT_SNAPSHOT',
      `current snapshot ${current} cannot be re-indexed: ${(error as Error).message}. Run a full build (npm run index) to replace it`,
      { cause: error },
    );
  }
}

function identitiesOf(entries: readonly { identity: string }[]): number {
  return new Set(entries.map((e) => e.identity)).size;
}

/**
 * Runs the index job under the lock and returns its summary. Throws `IndexError` (LOCKED,
 * EMPTY_GALLERY, CORRUPT_SNAPSHOT, …) with CURRENT untouched.
 *
 * @example
 * const summary = await runIndex({ indexDir: 'index', store: new GalleryStore('gallery'), embedder, mode: 'reindex' });
 * console.log(formatSummary(summary));
 */
export async function runIndex(options: IndexRunOptions): Promise<IndexRunSummary> {
  const started = performance.now();
  const warn = options.onWarning ?? (() => {});
  const progress = options.onProgress ?? (() => {});
  const { indexDir, embedder } = options;
  await mkdir(indexDir, { recursive: true });
  const lock = await acquireLock(join(indexDir, LOCK_FILE), {
    command: `index ${options.mode}`,
    onTakeover: (stale) => warn(`took over a stale lock of pid ${stale.pid} (started ${stale.startedAt})`),
  });
  try {
    const { data: previous, parent } = await loadPrevious(indexDir, options.mode, warn);
    const params: HnswParams = { ...DEFAULT_HNSW_PARAMS, ...(previous ? pickParams(previous.manifest) : {}), ...definedOnly(options.params ?? {}) };

    const t0 = performance.now();
    progress('hash', 0, 1);
    const listing = await options.store.listGalleryEntries();
    progress('hash', 1, 1);
    listing.warnings.forEach(warn);
    if (listing.entries.length === 0 && !(options.mode === 'reindex' && previous)) {
      throw new IndexError('EMPTY_GALLERY', `no images in ${options.store.root} (nor enrolled in ${options.store.dir})`);
    }
    const { recipe } = embedder;
    const model = { id: recipe.modelId, weightsHash: recipe.weightsHash, dim: recipe.dim, metric: recipe.metric, normalized: recipe.normalized };
    const planWith = (rebuild: boolean) =>
      planIndex(listing.entries, previous?.manifest ?? null, model, params, {
        force: options.mode === 'build' ? 'full' : rebuild ? 'rebuild' : undefined,
        maxDeletedFraction: options.maxDeletedFraction ?? DEFAULT_MAX_DELETED_FRACTION,
      });
    let plan = planWith(options.rebuild ?? false);
    // Face models: a deleted face must not stay in the graph as a marked-deleted point (see erasure below).
    const erasing = embedder.faces !== undefined && plan.mode === 'incremental' && plan.deleteLabels.length + plan.keptDeletedLabels.length > 0;
    if (erasing) plan = planWith(true);
    const t1 = performance.now();

    const embedded = await embedder.embedAll(
      plan.toEmbed.map((e) => e.path),
      { onProgress: (done, total) => progress('embed', done, total) },
    );
    const faces = embedder.faces ? faceLists(plan, embedded, previous) : undefined;
    const noFace = new Set(embedded.faces?.none ?? []);
    const unreadable = embedded.failed.filter((f) => !noFace.has(f.index));
    if (unreadable.length) {
      for (const f of unreadable.slice(0, 10)) warn(`left out ${plan.toEmbed[f.index].path}: ${f.reason}`);
      if (unreadable.length > 10) warn(`… and ${unreadable.length - 10} more unreadable images`);
    }
    if (embedded.failed.length) plan = dropFailed(plan, new Set(embedded.failed.map((f) => f.index)));
    const t2 = performance.now();

    const dim = recipe.dim;
    const vectors = new Float32Array(plan.entries.length * dim);
    plan.entries.forEach((p, row) => {
      const src = p.vector.from === 'previous' ? (previous as SnapshotData).vectors : embedded.vectors;
      const srcRow = p.vector.from === 'previous' ? p.vector.row : p.vector.index;
      vectors.set(src.subarray(srcRow * dim, (srcRow + 1) * dim), row * dim);
    });

    const { index, deletedLabels } = await buildGraph(plan, previous, vectors, dim, params, (d, t) => progress('graph', d, t));
    const t3 = performance.now();

    const version = await allocateVersion(indexDir, options.now?.() ?? new Date());
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version,
      parent,
      createdAt: (options.now?.() ?? new Date()).toISOString(),
      model: { id: model.id, weightsHash: model.weightsHash },
      dim,
      metric: model.metric,
      normalized: model.normalized,
      space: 'l2',
      hnsw: { ...params, maxElements: index.getMaxElements(), points: index.getCurrentCount(), nextLabel: plan.nextLabel, deletedLabels },
      counts: { images: plan.entries.length, identities: identitiesOf(plan.entries.map((p) => p.entry)), deleted: deletedLabels.length },
      build: { mode: plan.mode, reason: plan.reason, ...plan.counts, seconds: 0 },
      gallery: { root: options.store.root, store: options.store.dir, journalSeq: listing.journalSeq },
      entries: plan.entries.map((p) => ({ label: p.label, identity: p.entry.identity, origin: p.entry.origin, source: p.entry.source, sha256: p.entry.sha256, size: p.entry.size })),
      ...(faces ? { faces } : {}),
    };
    manifest.build.seconds = round3((performance.now() - started) / 1000);

    progress('write', 0, 1);
    await writeSnapshot(indexDir, version, {
      async write(dir) {
        // This instance was made by this job and nothing else touches it while it is written.
        await index.writeIndex(join(dir, HNSW_FILE));
        await writeFile(join(dir, VECTORS_FILE), vectorsToBytes(vectors));
        await writeFile(join(dir, MANIFEST_FILE), `${JSON.stringify(manifest)}\n`);
        return [HNSW_FILE, VECTORS_FILE, MANIFEST_FILE];
      },
    });
    await switchCurrent(indexDir, version);
    progress('write', 1, 1);
    // Face models: once an image is gone from the gallery, no retained snapshot and no blob keeps its face.
    const erased = embedder.faces !== undefined && (erasing || plan.counts.removed > 0);
    const { removed: pruned } = await pruneSnapshots(indexDir, erased ? 1 : (options.keep ?? DEFAULT_KEEP));
    if (erased) await options.store.removeDeletedBlobs(listing.journalSeq);
    const t4 = performance.now();

    return {
      version,
      parent: manifest.parent,
      mode: plan.mode,
      reason: plan.reason,
      ...plan.counts,
      failed: unreadable.length,
      ...(faces ? { faces } : {}),
      images: manifest.counts.images,
      identities: manifest.counts.identities,
      deleted: manifest.counts.deleted,
      seconds: (t4 - started) / 1000,
      timings: { list: (t1 - t0) / 1000, embed: (t2 - t1) / 1000, graph: (t3 - t2) / 1000, write: (t4 - t3) / 1000 },
      pruned,
    };
  } finally {
    await lock.release();
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

function pickParams(m: Manifest): HnswParams {
  return { M: m.hnsw.M, efConstruction: m.hnsw.efConstruction, ef: m.hnsw.ef, randomSeed: m.hnsw.randomSeed };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Removes entries whose image failed to embed (their labels simply stay unused). */
function dropFailed(plan: Plan, failedIndexes: Set<number>): Plan {
  const entries = plan.entries.filter((p) => !(p.vector.from === 'embed' && failedIndexes.has(p.vector.index)));
  return { ...plan, entries, counts: { ...plan.counts, embedded: plan.counts.embedded - failedIndexes.size } };
}

async function buildGraph(
  plan: Plan,
  previous: SnapshotData | null,
  vectors: Float32Array,
  dim: number,
  params: HnswParams,
  onProgress: (done: number, total: number) => void,
): Promise<{ index: Hnsw; deletedLabels: number[] }> {
  if (plan.mode === 'incremental' && previous) {
    // A NEW instance loaded from the previous snapshot's file; that file is only read.
    const index = await loadHnsw(join(previous.dir, HNSW_FILE), dim, params.ef);
    for (const label of plan.deleteLabels) index.markDelete(label);
    const previousLabels = new Set(previous.manifest.entries.map((e) => e.label));
    const rows: number[] = [];
    const labels: number[] = [];
    plan.entries.forEach((p, row) => {
      if (!previousLabels.has(p.label)) {
        rows.push(row);
        labels.push(p.label);
      }
    });
    await addRows(index, vectors, dim, rows, labels, onProgress);
    index.setEf(params.ef);
    const deletedLabels = [...plan.keptDeletedLabels, ...plan.deleteLabels].sort((a, b) => a - b);
    return { index, deletedLabels };
  }
  const index = createHnsw(dim, plan.entries.length, params);
  await addRows(index, vectors, dim, plan.entries.map((_, row) => row), plan.entries.map((p) => p.label), onProgress);
  index.setEf(params.ef);
  return { index, deletedLabels: [] };
}

