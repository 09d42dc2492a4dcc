/**
 * Opens the vector store a deployment chose: `local` (HNSW snapshots in an index folder, the
 * default) or `pgvector` (Postgres, shared by every instance). The server, the index CLI and the
 * benchmarks open stores here, so none of them knows an engine's details.
 */
import type { Embedder } from '../embedding/index.js';
import { IndexError } from './errors.js';
import { LocalHnswStore, type StoreLog } from './local-store.js';
import type { HnswParams } from './manifest.js';
import { PgvectorStore } from './pgvector/store.js';
import type { Expectation } from './snapshot-read.js';
import type { GalleryStore } from './store.js';
import type { VectorStore } from './vector-store.js';

export const STORE_KINDS = ['local', 'pgvector'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

export interface OpenStoreOptions {
  kind: StoreKind;
  /** local: the index folder (snapshots + CURRENT). */
  indexDir: string;
  /** pgvector: postgres://… (DATABASE_URL). */
  databaseUrl?: string;
  /** pgvector: the Postgres schema (PG_SCHEMA), default `twinsearch`. */
  schema?: string;
  /** pgvector: connections per instance (PG_POOL_MAX), default 4. */
  poolMax?: number;
  gallery: GalleryStore;
  expect: Expectation;
  /** Search ef; default the generation's. */
  ef?: number;
  embedder: Embedder;
  log: StoreLog;
  /** How often to look for a new generation (ms); 0 = never. */
  pollMs?: number;
  /** local: watch the index folder too. */
  watch?: boolean;
  /** The command that builds this model's index, shown (log, /readyz, demo) when there is none or it is another model's. */
  buildCommand?: string;
  /** Re-index options: graph parameters, and for local, snapshots kept and the deleted-fraction rebuild limit. */
  reindex?: { params?: Partial<HnswParams>; keep?: number; maxDeletedFraction?: number };
}

/**
 * @example
 * const store = openStore({ kind: 'pgvector', databaseUrl: process.env.DATABASE_URL, indexDir, gallery, expect, embedder, log });
 * await store.start();
 */
export function openStore(options: OpenStoreOptions): VectorStore {
  const { gallery, expect, ef, embedder, log, pollMs } = options;
  if (options.kind === 'local') {
    return new LocalHnswStore({ indexDir: options.indexDir, expect, ef, gallery, embedder, log, pollMs, watch: options.watch, reindex: options.reindex, buildCommand: options.buildCommand });
  }
  if (!options.databaseUrl) throw new IndexError('BAD_ARGUMENT', 'the pgvector store needs a database URL (DATABASE_URL, postgres://user:password@host:5432/database)');
  return new PgvectorStore({
    pool: { url: options.databaseUrl, max: options.poolMax },
    schema: options.schema,
    expect,
    ef,
    gallery,
    embedder,
    log,
    pollMs,
    reindex: options.reindex,
    buildCommand: options.buildCommand,
  });
}
