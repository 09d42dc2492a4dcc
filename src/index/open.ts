/**
 * Opens a snapshot for searching: verifies it, loads it into a NEW hnswlib instance, and
 * answers image-level and identity-level k-NN queries.
 *
 * Swapping snapshots is the caller's job: open the new one (a new `OpenIndex`), then replace
 * the reference; searches already running finish on the old object. Never hand an instance
 * that is being mutated (`addLive`, `deleteLive`) to anything that writes it to disk: hnswlib
 * wrote corrupt files when points were added during writeIndex (NOTES.md). This module never
 * writes; the re-index job reads snapshot files, never this object.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metric } from '../model/config.js';
import { readChecksums, verifyFile, type Checksums } from './checksums.js';
import { distanceFromRaw, normalizeRowsInPlace } from './distance.js';
import { IndexError } from './errors.js';
import { exactSearch } from './exact.js';
import { ensureCapacity, loadHnsw, type Hnsw } from './hnsw.js';
import { HNSW_FILE, MANIFEST_FILE, parseManifest, VECTORS_FILE, type Manifest, type ManifestEntry } from './manifest.js';
import { readCurrent } from './snapshot.js';
import { bytesToVectors, VectorTable } from './vectors.js';

export interface SnapshotData {
  version: string;
  dir: string;
  manifest: Manifest;
  /** Row-major, row i = manifest.entries[i]. */
  vectors: Float32Array;
  checksums: Checksums;
}

export interface Expectation {
  dim: number;
  metric: Metric;
  /** Also require this model id (and weights hash), when given. */
  modelId?: string;
  weightsHash?: string;
}

/** Resolves `version` or CURRENT to a snapshot folder name. */
export async function resolveVersion(indexDir: string, version?: string): Promise<string> {
  if (version) return version;
  const current = await readCurrent(indexDir);
  if (!current) throw new IndexError('NO_CURRENT', `${join(indexDir, 'CURRENT')} does not exist: build an index first (npm run index)`);
  return current;
}

/**
 * Reads and verifies a snapshot's manifest and vectors (and, with `verifyHnsw`, hnsw.bin)
 * against checksums.json, and checks they agree with each other.
 *
 * @example
 * const { manifest, vectors } = await readSnapshotData('index', 'v000003-20261128T180102Z', { verifyHnsw: true });
 */
export async function readSnapshotData(indexDir: string, version: string, options: { verifyHnsw: boolean }): Promise<SnapshotData> {
  const dir = join(indexDir, version);
  const checksums = await readChecksums(dir).catch((error: unknown) => {
    if (error instanceof IndexError && (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new IndexError('NO_SNAPSHOT', `snapshot ${dir} does not exist or is incomplete`, { cause: error });
    }
    throw error;
  });
  const manifestBytes = await readFile(join(dir, MANIFEST_FILE)).catch((error: unknown) => {
    throw new IndexError('CORRUPT_SNAPSHOT', `${join(dir, MANIFEST_FILE)} is missing`, { cause: error });
  });
  await verifyFile(dir, checksums, MANIFEST_FILE, manifestBytes);
  const manifest = parseManifest(manifestBytes.toString('utf8'), join(dir, MANIFEST_FILE));
  if (manifest.version !== version) throw new IndexError('CORRUPT_SNAPSHOT', `${dir} holds the manifest of ${manifest.version}`);
  const vectorBytes = await readFile(join(dir, VECTORS_FILE)).catch((error: unknown) => {
    throw new IndexError('CORRUPT_SNAPSHOT', `${join(dir, VECTORS_FILE)} is missing`, { cause: error });
  });
  await verifyFile(dir, checksums, VECTORS_FILE, vectorBytes);
  const vectors = bytesToVectors(vectorBytes);
  if (vectors.length !== manifest.entries.length * manifest.dim) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${VECTORS_FILE} holds ${vectors.length} floats, the manifest needs ${manifest.entries.length} x ${manifest.dim}`);
  }
  if (options.verifyHnsw) await verifyFile(dir, checksums, HNSW_FILE);
  return { version, dir, manifest, vectors, checksums };
}

/** Throws `MISMATCH` unless the snapshot was built for what the caller expects. */
export function checkExpectation(manifest: Manifest, expect: Expectation): void {
  const problems: string[] = [];
  if (manifest.dim !== expect.dim) problems.push(`dimension ${manifest.dim}, expected ${expect.dim}`);
  if (manifest.metric !== expect.metric) problems.push(`metric ${manifest.metric}, expected ${expect.metric}`);
  if (expect.modelId !== undefined && manifest.model.id !== expect.modelId) problems.push(`model ${manifest.model.id}, expected ${expect.modelId}`);
  if (expect.weightsHash !== undefined && manifest.model.weightsHash !== expect.weightsHash) problems.push('other model weights than expected');
  if (problems.length) throw new IndexError('MISMATCH', `snapshot ${manifest.version} was built with ${problems.join('; ')}: re-index with this model`);
}

/** Compares hnsw.bin with vectors.f32 on a few points: a graph of another dimension or gallery fails here. */
function checkGraph(index: Hnsw, data: SnapshotData): void {
  const { manifest, vectors } = data;
  if (index.getCurrentCount() !== manifest.hnsw.points) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${HNSW_FILE} of ${data.version} has ${index.getCurrentCount()} points, the manifest says ${manifest.hnsw.points}`);
  }
  const n = manifest.entries.length;
  const samples = n === 0 ? [] : [...new Set([0, n - 1, Math.floor(n / 2), Math.floor(n / 3)])];
  for (const row of samples) {
    const label = manifest.entries[row].label;
    let point: number[];
    try {
      point = index.getPoint(label);
    } catch (error) {
      throw new IndexError('CORRUPT_SNAPSHOT', `${HNSW_FILE} of ${data.version} lacks label ${label}`, { cause: error });
    }
    for (let j = 0; j < manifest.dim; j++) {
      if (point[j] !== vectors[row * manifest.dim + j]) {
        throw new IndexError('CORRUPT_SNAPSHOT', `${HNSW_FILE} and ${VECTORS_FILE} of ${data.version} disagree on label ${label}`);
      }
    }
  }
}

export type SearchLevel = 'image' | 'identity';

export interface SearchOptions {
  /** `image` (default): the k nearest images. `identity`: the k nearest identities, each with its best image. */
  level?: SearchLevel;
  /** Brute-force scan instead of the graph (exact; fine for small galleries). */
  exact?: boolean;
}

export interface SearchHit {
  label: number;
  identity: string;
  origin: ManifestEntry['origin'];
  source: string;
  sha256: string;
  /** In the model's metric (see distance.ts). */
  distance: number;
}

export interface IndexStats {
  version: string;
  modelId: string;
  dim: number;
  metric: Metric;
  /** Searchable images and identities (snapshot + live changes). */
  images: number;
  identities: number;
  /** Points marked deleted in the graph (snapshot and live). */
  deleted: number;
  /** Images added / identities deleted since the snapshot was opened. */
  liveAdded: number;
  liveDeleted: number;
  M: number;
  efConstruction: number;
  ef: number;
  /** Journal position the snapshot reflects (replay later records after opening). */
  journalSeq: number;
}

interface LiveEntry extends Omit<ManifestEntry, 'label'> {
  row: number;
}

/** Overfetch factor for identity-level search (grows until k identities are found). */
const IDENTITY_OVERFETCH = 4;

/**
 * A verified snapshot loaded for search. Not safe to use from two threads; mutations
 * (`addLive`, `deleteLive`) are in memory only — the gallery store makes them durable.
 */
export class OpenIndex {
  private readonly byLabel = new Map<number, LiveEntry>();
  private readonly byIdentity = new Map<string, Set<number>>();
  private readonly table: VectorTable;
  /** row → label, for the exact scan. */
  private readonly rowLabel: number[] = [];
  private readonly deadRows = new Set<number>();
  private nextLabel: number;
  private deletedCount: number;
  private liveAdded = 0;
  private liveDeleted = 0;

  constructor(
    readonly version: string,
    readonly manifest: Manifest,
    vectors: Float32Array,
    private readonly index: Hnsw,
  ) {
    this.table = VectorTable.from(vectors, manifest.dim);
    manifest.entries.forEach((e, row) => this.remember(e.label, { ...e, row }));
    this.nextLabel = manifest.hnsw.nextLabel;
    this.deletedCount = manifest.hnsw.deletedLabels.length;
  }

  get dim(): number {
    return this.manifest.dim;
  }

  get metric(): Metric {
    return this.manifest.metric;
  }

  private remember(label: number, entry: LiveEntry): void {
    this.byLabel.set(label, entry);
    this.rowLabel[entry.row] = label;
    const labels = this.byIdentity.get(entry.identity) ?? new Set<number>();
    labels.add(label);
    this.byIdentity.set(entry.identity, labels);
  }

  /** Validates and (for normalised snapshots) normalises a query or stored vector. */
  private prepare(vector: Float32Array | readonly number[]): Float32Array {
    if (vector.length !== this.dim) throw new IndexError('BAD_ARGUMENT', `vector has ${vector.length} dimensions, the index ${this.dim}`);
    const v = Float32Array.from(vector);
    for (let j = 0; j < v.length; j++) if (!Number.isFinite(v[j])) throw new IndexError('BAD_ARGUMENT', 'vector contains NaN or infinity');
    return this.manifest.normalized ? normalizeRowsInPlace(v, this.dim) : v;
  }

  private hit(label: number, raw: number): SearchHit | null {
    const e = this.byLabel.get(label);
    if (!e) return null;
    return { label, identity: e.identity, origin: e.origin, source: e.source, sha256: e.sha256, distance: distanceFromRaw(this.metric, raw) };
  }

  /** The `n` nearest live images (raw distances), graph or exact. */
  private nearest(query: Float32Array, n: number, exact: boolean): SearchHit[] {
    const count = Math.min(n, this.byLabel.size);
    if (count <= 0) return [];
    if (exact) {
      const hits = exactSearch(this.table.data, this.dim, query, count, { isLive: (row) => !this.deadRows.has(row), metric: 'l2' });
      // exactSearch returned Euclidean; square back to raw so both paths convert in one place.
      return hits.map((h) => this.hit(this.rowLabel[h.row], h.distance * h.distance)).filter((h): h is SearchHit => h !== null);
    }
    const result = this.index.searchKnn(Array.from(query), count);
    const hits: SearchHit[] = [];
    for (let i = 0; i < result.neighbors.length; i++) {
      const h = this.hit(result.neighbors[i], result.distances[i]);
      if (h) hits.push(h);
    }
    return hits;
  }

  /**
   * The k nearest images, or the k nearest identities (each with its best image), nearest first.
   *
   * @example
   * const images = index.search(queryVector, 10);
   * const people = index.search(queryVector, 5, { level: 'identity' }); // [{ identity: 'alice', distance: 0.31, … }, …]
   */
  search(vector: Float32Array | readonly number[], k: number, options: SearchOptions = {}): SearchHit[] {
    if (!Number.isInteger(k) || k < 1) throw new IndexError('BAD_ARGUMENT', `k must be a positive integer, got ${k}`);
    const query = this.prepare(vector);
    const exact = options.exact ?? false;
    if ((options.level ?? 'image') === 'image') return this.nearest(query, k, exact);
    const wantIdentities = Math.min(k, this.byIdentity.size);
    for (let fetch = k * IDENTITY_OVERFETCH; ; fetch *= 2) {
      const hits = this.nearest(query, fetch, exact);
      const best = new Map<string, SearchHit>();
      for (const h of hits) if (!best.has(h.identity)) best.set(h.identity, h);
      if (best.size >= wantIdentities || fetch >= this.byLabel.size) return [...best.values()].slice(0, k);
    }
  }

  /**
   * Adds enrolled images to this in-memory index (the API calls it after `store.enrol`).
   * Returns their labels. Throws `BAD_ARGUMENT` on a wrong vector count.
   *
   * @example
   * const { entries } = await store.enrol('alice', [bytes]);
   * index.addLive(entries, (await embedder.embed([bytes])).vectors);
   */
  addLive(entries: readonly Omit<ManifestEntry, 'label'>[], vectors: Float32Array): number[] {
    if (vectors.length !== entries.length * this.dim) {
      throw new IndexError('BAD_ARGUMENT', `${entries.length} entries need ${entries.length * this.dim} floats, got ${vectors.length}`);
    }
    const prepared = entries.map((_, i) => this.prepare(vectors.subarray(i * this.dim, (i + 1) * this.dim)));
    ensureCapacity(this.index, entries.length);
    const labels: number[] = [];
    entries.forEach((e, i) => {
      const label = this.nextLabel++;
      this.index.addPoint(Array.from(prepared[i]), label);
      const row = this.table.push(prepared[i]);
      this.remember(label, { identity: e.identity, origin: e.origin, source: e.source, sha256: e.sha256, size: e.size, row });
      labels.push(label);
    });
    this.liveAdded += entries.length;
    return labels;
  }

  /**
   * Removes every image of an identity from search (markDelete). Returns how many were removed.
   *
   * @example
   * await store.deleteIdentity('alice'); index.deleteLive('alice'); // 3
   */
  deleteLive(identity: string): number {
    const labels = this.byIdentity.get(identity);
    if (!labels) return 0;
    for (const label of labels) {
      this.index.markDelete(label);
      const e = this.byLabel.get(label);
      if (e) this.deadRows.add(e.row);
      this.byLabel.delete(label);
    }
    this.byIdentity.delete(identity);
    this.deletedCount += labels.size;
    this.liveDeleted++;
    return labels.size;
  }

  /** Whether an identity has searchable images. */
  hasIdentity(identity: string): boolean {
    return this.byIdentity.has(identity);
  }

  /** Changes the search-time candidate list size (recall vs speed). */
  setEf(ef: number): void {
    if (!Number.isInteger(ef) || ef < 1) throw new IndexError('BAD_ARGUMENT', `ef must be a positive integer, got ${ef}`);
    this.index.setEf(ef);
  }

  stats(): IndexStats {
    const m = this.manifest;
    return {
      version: this.version,
      modelId: m.model.id,
      dim: m.dim,
      metric: m.metric,
      images: this.byLabel.size,
      identities: this.byIdentity.size,
      deleted: this.deletedCount,
      liveAdded: this.liveAdded,
      liveDeleted: this.liveDeleted,
      M: m.hnsw.M,
      efConstruction: m.hnsw.efConstruction,
      ef: this.index.getEf(),
      journalSeq: m.gallery.journalSeq,
    };
  }
}

export interface OpenOptions {
  /** A snapshot version; default: the one CURRENT names. */
  version?: string;
  /** What the serving model needs; a snapshot built otherwise is refused (`MISMATCH`). */
  expect: Expectation;
  /** Search ef; default the manifest's. */
  ef?: number;
}

/**
 * Verifies and opens a snapshot into a new hnswlib instance, with `ef` set after loading.
 * Throws `IndexError`: NO_CURRENT, NO_SNAPSHOT, CORRUPT_SNAPSHOT, BAD_MANIFEST, MISMATCH.
 *
 * @example
 * const index = await openSnapshot('index', { expect: { dim: 64, metric: 'l2', modelId: card.modelId } });
 * const hits = index.search(vector, 10, { level: 'identity' });
 * // later, after a re-index: const next = await openSnapshot('index', { expect }); current = next;
 */
export async function openSnapshot(indexDir: string, options: OpenOptions): Promise<OpenIndex> {
  const version = await resolveVersion(indexDir, options.version);
  const data = await readSnapshotData(indexDir, version, { verifyHnsw: true });
  checkExpectation(data.manifest, options.expect);
  const ef = options.ef ?? data.manifest.hnsw.ef;
  let index: Hnsw;
  try {
    index = await loadHnsw(join(data.dir, HNSW_FILE), data.manifest.dim, ef);
  } catch (error) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${join(data.dir, HNSW_FILE)} cannot be loaded: ${(error as Error).message}`, { cause: error });
  }
  checkGraph(index, data);
  return new OpenIndex(version, data.manifest, data.vectors, index);
}
