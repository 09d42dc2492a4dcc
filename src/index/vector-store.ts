/**
 * The vector store: what the API and the re-index job need from wherever the gallery's vectors
 * live. `LocalHnswStore` (local-store.ts) keeps immutable HNSW snapshots on disk, loads one per
 * serving instance and replays the gallery store's journal into it; an external engine
 * (Postgres + pgvector, …) is another implementation of the same interface.
 *
 * Generations: a re-index builds a new generation to one side and publishes it atomically.
 * A request takes one `StoreReader` and does all its reads on it, so it sees one generation from
 * start to end even if a newer one is published meanwhile.
 *
 * Ids: an image is identified by its identity and the sha256 of its bytes (`imageId`, ids.ts), so
 * enrolling the same bytes again for the same identity, or replaying a write, is harmless.
 */
import type { Metric } from '../model/config.js';
import type { CatalogueEntry } from './catalogue.js';
import type { SearchHit, SearchOptions } from './live-snapshot.js';
import type { IndexRunOptions, IndexRunSummary } from './reindex.js';
import type { GalleryEntry } from './store.js';

export type { CatalogueEntry } from './catalogue.js';
export type { SearchHit, SearchLevel, SearchOptions } from './live-snapshot.js';

/** A served generation, as `GET /v1/index` reports it. */
export interface GenerationInfo {
  generation: string;
  /** The engine serving it, and what it promises (docs/index.md, "Consistency"). */
  engine: StoreEngine;
  capabilities: StoreCapabilities;
  createdAt: string;
  model: { id: string; weightsHash: string };
  dim: number;
  metric: Metric;
  /** Vectors are stored L2-normalised. */
  normalized: boolean;
  /** Searchable images and identities, and points marked deleted but still in the graph. */
  images: number;
  identities: number;
  deleted: number;
  /** Changes applied since the generation was published (enrolled images, deleted identities). */
  liveAdded: number;
  liveDeleted: number;
  /** The enrolment journal position the generation reflects. */
  journalSeq: number;
  /** HNSW parameters: graph degree, construction and search candidate lists (pgvector: m, ef_construction, hnsw.ef_search). */
  params: { M: number; efConstruction: number; ef: number };
  build: { mode: string; reason: string; seconds: number };
}

/** One page of identities in byte order; `next` is the last identity of the page, or null at the end. */
export interface IdentityPage {
  identities: { identity: string; images: number }[];
  next: string | null;
}

/** Reads pinned to one generation (take one per request). */
export interface StoreReader {
  readonly generation: string;
  info(): GenerationInfo;
  /**
   * @example
   * const hits = await reader.search(vector, 5, { level: 'identity' });
   */
  search(vector: Float32Array | readonly number[], k: number, options?: SearchOptions): Promise<SearchHit[]>;
  /** Identities after `after` (exclusive), in byte order. */
  identities(after: string | undefined, limit: number): Promise<IdentityPage>;
  /** An image by index label or by the sha256 of its bytes. */
  image(key: string): Promise<CatalogueEntry | undefined>;
}

export interface RefusedGeneration {
  generation: string;
  code: string;
  message: string;
  at: string;
  /** Set when the generation was built with another model than the one serving. */
  builtWith?: string;
}

/** Why a store cannot serve (or serves an older generation), in words a user can act on. */
export interface StoreProblem {
  /** `NO_INDEX`: nothing built yet. `OTHER_MODEL`: the index was built with another model. `REFUSED`: the newest generation failed verification. */
  code: 'NO_INDEX' | 'OTHER_MODEL' | 'REFUSED';
  message: string;
  /** The command that fixes it, when there is one. */
  fix?: string;
}

export interface StoreStatus {
  ready: boolean;
  generation: string | null;
  loadedAt: string | null;
  /** The last generation that could not be served (while an older one may still serve). */
  refused: RefusedGeneration | null;
  swaps: number;
  reloadFailures: number;
  lastCheckAt: string | null;
  /** What keeps the store from serving the newest generation, or null. */
  problem: StoreProblem | null;
}

export type StoreEngine = 'hnswlib' | 'pgvector';

/** What a store promises about writes, and the search knobs it has (docs/index.md says what each store gives). */
export interface StoreCapabilities {
  /** An acknowledged enrolment or deletion is seen by this instance's next search. */
  readYourWrites: boolean;
  /** ...and by every other instance's next search, without waiting for a reload. */
  sharedWrites: boolean;
  /** `search` takes `ef` (candidate list size: recall against speed) for one query. */
  ef: boolean;
  /** `search` takes `exact: true` (a full scan instead of the graph). */
  exact: boolean;
}

export type ReloadOutcome = 'swapped' | 'unchanged' | 'refused' | 'no-index';

/** One image to enrol: its bytes (kept durably) and its embedding. */
export interface EnrolImage {
  bytes: Uint8Array;
  vector: Float32Array;
}

export interface EnrolResult {
  /** The images' content-addressed ids (`imageId`), in `entries` order. */
  ids: string[];
  /** Images new to the identity, and images it already had (same bytes). */
  added: number;
  duplicates: number;
  /** Images the identity has now. */
  images: number;
  entries: GalleryEntry[];
}

/**
 * What a re-index may be told: `mode: 'build'` embeds everything again (a new baseline), graph
 * parameters (unspecified ones: the previous generation's, then the defaults), progress and warnings.
 */
export type ReindexOptions = Partial<Pick<IndexRunOptions, 'mode' | 'params' | 'rebuild' | 'replaceModel' | 'onProgress' | 'onWarning'>>;

export interface VectorStore {
  readonly engine: StoreEngine;
  readonly capabilities: StoreCapabilities;
  /** Loads the published generation (if any) and starts following new ones. */
  start(): Promise<ReloadOutcome>;
  /** The generation requests read, or null until one is served. */
  reader(): StoreReader | null;
  status(): StoreStatus;
  /** Checks for a newer published generation and serves it. */
  reload(options?: { force?: boolean }): Promise<ReloadOutcome>;
  /** Called after every reload attempt that did something. */
  onReload(listener: (outcome: ReloadOutcome, generation: string | null) => void): () => void;
  /**
   * Durably enrols images for an identity; searchable when it resolves.
   *
   * @example
   * await store.enrol('alice', [{ bytes, vector }]) // { added: 1, duplicates: 0, images: 4, entries }
   */
  enrol(identity: string, images: readonly EnrolImage[]): Promise<EnrolResult>;
  /** Durably deletes an identity; resolves how many images it had (0: unknown identity). */
  deleteIdentity(identity: string): Promise<number>;
  /** The bytes of an indexed image, or undefined if they are gone or changed since indexing. */
  imageBytes(entry: CatalogueEntry): Promise<Uint8Array | undefined>;
  /**
   * Builds a new generation from the gallery (embedding only what changed) to one side, publishes
   * it atomically and, once started, serves it. Resolves null when another run holds the index lock.
   *
   * @example
   * await store.reindex({ mode: 'build', params: { M: 16 } }) // { version: 'v000002-…', added: 12, … }
   */
  reindex(options?: ReindexOptions): Promise<IndexRunSummary | null>;
  close(): Promise<void>;
}
