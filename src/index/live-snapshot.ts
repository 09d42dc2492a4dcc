/**
 * A verified snapshot loaded into a NEW hnswlib instance for search, plus the live enrolments
 * and deletions made since it was opened (in memory only: the gallery store makes them durable,
 * and the next re-index bakes them in).
 *
 * Swapping snapshots is the caller's job (local-store.ts): open the new one, then replace the
 * reference; searches already running finish on the old object. Never hand an instance that is
 * being changed (`addLive`, `deleteLive`) to anything that writes it to disk: hnswlib wrote
 * corrupt files when points were added during writeIndex. This module never writes; the
 * re-index job reads snapshot files, never this object.
 */
import { join } from 'node:path';
import type { Metric } from '../model/config.js';
import { Catalogue, type CatalogueEntry } from './catalogue.js';
import { distanceFromRaw, normalizeRowsInPlace } from './distance.js';
import { IndexError } from './errors.js';
import { ensureCapacity, loadHnsw, type Hnsw } from './hnsw.js';
import { HNSW_FILE, type Manifest, type ManifestEntry } from './manifest.js';
import { checkExpectation, checkGraph, readSnapshotData, resolveVersion, type Expectation } from './snapshot-read.js';

export type SearchLevel = 'image' | 'identity';

export interface SearchOptions {
  /** `image` (default): the k nearest images. `identity`: the k nearest identities, each with its best image. */
  level?: SearchLevel;
  /** Candidate list size for this query (recall against speed); default the store's. */
  ef?: number;
  /** A full scan instead of the graph, where the store has one (`capabilities.exact`). */
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

export interface SnapshotStats {
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

/** Overfetch factor for identity-level search (grows until k identities are found). */
export const IDENTITY_OVERFETCH = 4;

/**
 * The first (nearest) hit of each identity, in order: identity-level results from image-level ones.
 *
 * @example
 * bestPerIdentity([{ identity: 'a', distance: 0.1, … }, { identity: 'a', distance: 0.2, … }, { identity: 'b', … }]) // [a 0.1, b]
 */
export function bestPerIdentity(hits: readonly SearchHit[]): SearchHit[] {
  const best = new Map<string, SearchHit>();
  for (const h of hits) if (!best.has(h.identity)) best.set(h.identity, h);
  return [...best.values()];
}

/**
 * A verified snapshot loaded for search. Not safe to use from two threads; `addLive` and
 * `deleteLive` change this instance only.
 */
export class LiveSnapshot {
  /** What this instance holds: the manifest's entries, then every live change. */
  readonly catalogue: Catalogue;
  private nextLabel: number;
  private deletedCount: number;
  private liveAdded = 0;
  private liveDeleted = 0;

  constructor(
    readonly version: string,
    readonly manifest: Manifest,
    private readonly index: Hnsw,
  ) {
    this.catalogue = Catalogue.fromEntries(manifest.entries);
    this.nextLabel = manifest.hnsw.nextLabel;
    this.deletedCount = manifest.hnsw.deletedLabels.length;
  }

  get dim(): number {
    return this.manifest.dim;
  }

  get metric(): Metric {
    return this.manifest.metric;
  }

  /** Validates and (for normalised snapshots) normalises a query or stored vector. */
  private prepare(vector: Float32Array | readonly number[]): Float32Array {
    if (vector.length !== this.dim) throw new IndexError('BAD_ARGUMENT', `vector has ${vector.length} dimensions, the index ${this.dim}`);
    const v = Float32Array.from(vector);
    for (let j = 0; j < v.length; j++) if (!Number.isFinite(v[j])) throw new IndexError('BAD_ARGUMENT', 'vector contains NaN or infinity');
    return this.manifest.normalized ? normalizeRowsInPlace(v, this.dim) : v;
  }

  /** The `n` nearest live images. */
  private nearest(query: Float32Array, n: number): SearchHit[] {
    const count = Math.min(n, this.catalogue.images);
    if (count <= 0) return [];
    const result = this.index.searchKnn(Array.from(query), count);
    const hits: SearchHit[] = [];
    for (let i = 0; i < result.neighbors.length; i++) {
      const label = result.neighbors[i];
      const e = this.catalogue.get(label);
      if (e) hits.push({ label, identity: e.identity, origin: e.origin, source: e.source, sha256: e.sha256, distance: distanceFromRaw(this.metric, result.distances[i]) });
    }
    return hits;
  }

  /**
   * The k nearest images, or the k nearest identities (each with its best image), nearest first.
   *
   * @example
   * const images = snapshot.search(queryVector, 10);
   * const people = snapshot.search(queryVector, 5, { level: 'identity' }); // [{ identity: 'alice', distance: 0.31, … }, …]
   */
  search(vector: Float32Array | readonly number[], k: number, options: SearchOptions = {}): SearchHit[] {
    if (!Number.isInteger(k) || k < 1) throw new IndexError('BAD_ARGUMENT', `k must be a positive integer, got ${k}`);
    if (options.exact) throw new IndexError('BAD_ARGUMENT', 'the local HNSW store has no exact search');
    const query = this.prepare(vector);
    if (options.ef === undefined) return this.searchPrepared(query, k, options.level ?? 'image');
    // hnswlib's ef is per instance; searches are synchronous, so setting it around one cannot leak into another.
    const previous = this.index.getEf();
    this.setEf(options.ef);
    try {
      return this.searchPrepared(query, k, options.level ?? 'image');
    } finally {
      this.index.setEf(previous);
    }
  }

  private searchPrepared(query: Float32Array, k: number, level: SearchLevel): SearchHit[] {
    if (level === 'image') return this.nearest(query, k);
    const wantIdentities = Math.min(k, this.catalogue.identities);
    for (let fetch = k * IDENTITY_OVERFETCH; ; fetch *= 2) {
      const best = bestPerIdentity(this.nearest(query, fetch));
      if (best.length >= wantIdentities || fetch >= this.catalogue.images) return best.slice(0, k);
    }
  }

  /**
   * Adds enrolled images to this instance and returns their labels. Throws `BAD_ARGUMENT` on a
   * wrong vector count.
   *
   * @example
   * const { entries } = await store.enrol('alice', [bytes]);
   * snapshot.addLive(entries, vectors);
   */
  addLive(entries: readonly Omit<ManifestEntry, 'label'>[], vectors: Float32Array): number[] {
    if (vectors.length !== entries.length * this.dim) {
      throw new IndexError('BAD_ARGUMENT', `${entries.length} entries need ${entries.length * this.dim} floats, got ${vectors.length}`);
    }
    const prepared = entries.map((_, i) => this.prepare(vectors.subarray(i * this.dim, (i + 1) * this.dim)));
    ensureCapacity(this.index, entries.length);
    const labels = entries.map((e, i) => {
      const label = this.nextLabel++;
      this.index.addPoint(Array.from(prepared[i]), label);
      this.catalogue.add({ label, identity: e.identity, origin: e.origin, source: e.source, sha256: e.sha256, size: e.size });
      return label;
    });
    this.liveAdded += entries.length;
    return labels;
  }

  /**
   * Removes every image of an identity from search (markDelete). Returns how many were removed.
   *
   * @example
   * await store.deleteIdentity('alice'); snapshot.deleteLive('alice'); // 3
   */
  deleteLive(identity: string): number {
    const labels = [...this.catalogue.labelsOf(identity)];
    if (labels.length === 0) return 0;
    for (const label of labels) this.index.markDelete(label);
    this.catalogue.deleteIdentity(identity);
    this.deletedCount += labels.length;
    this.liveDeleted++;
    return labels.length;
  }

  /** Whether an identity has searchable images. */
  hasIdentity(identity: string): boolean {
    return this.catalogue.count(identity) > 0;
  }

  /** An image by index label or sha256 (see `Catalogue.find`). */
  find(key: string): CatalogueEntry | undefined {
    return this.catalogue.find(key);
  }

  /** Changes the search-time candidate list size (recall vs speed). */
  setEf(ef: number): void {
    if (!Number.isInteger(ef) || ef < 1) throw new IndexError('BAD_ARGUMENT', `ef must be a positive integer, got ${ef}`);
    this.index.setEf(ef);
  }

  stats(): SnapshotStats {
    const m = this.manifest;
    return {
      version: this.version,
      modelId: m.model.id,
      dim: m.dim,
      metric: m.metric,
      images: this.catalogue.images,
      identities: this.catalogue.identities,
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
 * Verifies and opens a snapshot into a new hnswlib instance, with `ef` set after loading. The
 * vectors file is read to verify the graph, then dropped: a serving instance keeps only the graph.
 * Throws `IndexError`: NO_CURRENT, NO_SNAPSHOT, CORRUPT_SNAPSHOT, BAD_MANIFEST, MISMATCH.
 *
 * @example
 * const snapshot = await openSnapshot('index', { expect: { dim: 64, metric: 'l2', modelId: card.modelId } });
 * const hits = snapshot.search(vector, 10, { level: 'identity' });
 */
export async function openSnapshot(indexDir: string, options: OpenOptions): Promise<LiveSnapshot> {
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
  return new LiveSnapshot(version, data.manifest, index);
}
