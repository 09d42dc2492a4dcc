/**
 * The pgvector store: the gallery's vectors, journal and enrolled bytes in Postgres, shared by
 * every serving instance. Each instance keeps only the name of the generation it serves (and its
 * counts), checked every `pollMs` and after each of its own writes.
 *
 * Consistency: an enrolment or deletion commits in one transaction with its journal record,
 * into every generation still served; every instance's next search sees it
 * (`capabilities.sharedWrites`), and the next re-index keeps it.
 */
import type { Embedder } from '../../embedding/index.js';
import { sha256Bytes } from '../checksums.js';
import { IndexError } from '../errors.js';
import type { HnswParams } from '../manifest.js';
import type { IndexRunSummary } from '../reindex.js';
import { expectationProblems, type Expectation } from '../snapshot-read.js';
import type { StoreLog } from '../local-store.js';
import { validateIdentity, type GalleryStore } from '../store.js';
import { ReloadTracker } from '../reloads.js';
import type { CatalogueEntry, EnrolImage, EnrolResult, ReindexOptions, ReloadOutcome, StoreCapabilities, StoreReader, StoreStatus, VectorStore } from '../vector-store.js';
import { generationInfo, readServing, type Generation } from './generations.js';
import { createPool, query, type Pool, type PoolOptions } from './pool.js';
import { PgReader } from './reader.js';
import { runPgIndex } from './reindex.js';
import { ensureSchema, names, DEFAULT_SCHEMA, type Names } from './schema.js';
import { deleteInDatabase, enrolInDatabase, type WriteOutcome } from './writes.js';

const PG_CAPABILITIES: StoreCapabilities = { readYourWrites: true, sharedWrites: true, ef: true, exact: true };

export interface PgvectorStoreOptions {
  /** A pool (shared, e.g. by a benchmark), or how to make one (closed with the store). */
  pool: Pool | PoolOptions;
  /** Postgres schema holding the store. Default `twinsearch`. */
  schema?: string;
  /** What the serving model needs from a generation; another model's is refused (MISMATCH). */
  expect: Expectation;
  /** Search ef (hnsw.ef_search); default the generation's. */
  ef?: number;
  /** The folder half of the gallery: listed by the re-index, read for folder thumbnails. */
  gallery: GalleryStore;
  embedder: Embedder;
  log: StoreLog;
  /** Check the pointer every this many ms (new generations, other instances' counts); 0 = never. Default 5000. */
  pollMs?: number;
  /** Graph parameters of re-indexes (unspecified: the previous generation's, then the defaults). */
  reindex?: { params?: Partial<HnswParams> };
  /** The command that builds this model's index, shown when there is none or it belongs to another model. */
  buildCommand?: string;
}

/**
 * @example
 * const store = new PgvectorStore({ pool: { url: process.env.DATABASE_URL! }, expect, gallery, embedder, log });
 * await store.start(); // creates the schema if allowed; 'swapped' when a generation is published
 * const hits = await store.reader()?.search(vector, 5, { level: 'identity' });
 */
export class PgvectorStore implements VectorStore {
  readonly engine = 'pgvector' as const;
  readonly capabilities = PG_CAPABILITIES;
  readonly names: Names;
  readonly pool: Pool;
  private readonly ownsPool: boolean;
  private served: PgReader | null = null;
  /** Latest rows of the generations this instance knows (counts move with every write). */
  private readonly rows = new Map<string, Generation>();
  private started = false;
  private closed = false;
  private readonly tracker: ReloadTracker;
  private poller: NodeJS.Timeout | null = null;
  private reindexing: Promise<IndexRunSummary | null> | null = null;

  constructor(private readonly options: PgvectorStoreOptions) {
    this.names = names(options.schema ?? DEFAULT_SCHEMA);
    this.tracker = new ReloadTracker(options.log, { where: `schema ${options.schema ?? DEFAULT_SCHEMA} of the database`, expectedModel: options.expect.modelId, buildCommand: options.buildCommand });
    this.ownsPool = !('query' in options.pool);
    this.pool = 'query' in options.pool ? options.pool : createPool(options.pool);
  }

  reader(): StoreReader | null {
    return this.served;
  }

  status(): StoreStatus {
    return this.tracker.status(this.served?.generation ?? null);
  }

  onReload(listener: (outcome: ReloadOutcome, generation: string | null) => void): () => void {
    return this.tracker.onReload(listener);
  }

  /** Creates the schema if needed (or refuses, SETUP), serves the published generation and starts polling. */
  async start(): Promise<ReloadOutcome> {
    await ensureSchema(this.pool, this.names);
    this.started = true;
    const outcome = await this.reload();
    const { pollMs = 5000 } = this.options;
    if (pollMs > 0) {
      this.poller = setInterval(() => void this.reload().catch(() => undefined), pollMs);
      this.poller.unref();
    }
    return outcome;
  }

  reload(options: { force?: boolean } = {}): Promise<ReloadOutcome> {
    return this.tracker.serial(() => this.reloadNow(options.force ?? false));
  }

  private async reloadNow(force: boolean): Promise<ReloadOutcome> {
    if (this.closed) return 'unchanged';
    let current: Generation | null;
    try {
      const serving = await readServing(this.pool, this.names);
      for (const g of serving.live) this.rows.set(g.name, g);
      current = serving.current;
    } catch (error) {
      // The database is unreachable: keep serving what we had (its queries will say so).
      this.tracker.reloadFailures++;
      this.options.log.warn({ err: (error as Error).message }, 'cannot read the current generation from Postgres');
      return 'unchanged';
    }
    this.tracker.noIndex = current === null;
    if (!current) return this.served ? 'unchanged' : 'no-index';
    if (current.name === this.served?.generation && !force) return 'unchanged';
    if (!force && current.name === this.tracker.refused?.generation) return 'refused';
    const problems = expectationProblems({ dim: current.dim, metric: current.metric, modelId: current.modelId, weightsHash: current.weightsHash }, this.options.expect);
    const builtWith = this.options.expect.modelId !== undefined && current.modelId !== this.options.expect.modelId ? current.modelId : undefined;
    if (problems.length) return this.tracker.refuse(current.name, 'MISMATCH', `generation ${current.name} was built with ${problems.join('; ')}: build an index with this model`, this.served?.generation ?? null, builtWith);
    const previous = this.served?.generation ?? null;
    this.served = new PgReader(
      {
        pool: this.pool,
        names: this.names,
        ef: this.options.ef,
        latest: (name) => this.rows.get(name) as Generation,
        info: (g) => generationInfo(g, PG_CAPABILITIES, this.options.ef ?? g.efSearch),
        successor: async () => {
          await this.reload();
          return this.served;
        },
      },
      current,
    );
    this.options.log.info({ version: current.name, previous, images: current.images, identities: current.identities }, 'pgvector generation served');
    return this.tracker.swapped(current.name);
  }

  /** Takes in the counts a write returned; serves the generation it wrote to if this instance was behind. */
  private async afterWrite(outcome: WriteOutcome): Promise<void> {
    for (const g of outcome.generations) this.rows.set(g.name, g);
    if (outcome.current !== this.served?.generation) await this.reload();
  }

  async enrol(identity: string, images: readonly EnrolImage[]): Promise<EnrolResult> {
    validateIdentity(identity);
    if (images.length === 0) throw new IndexError('BAD_ARGUMENT', 'enrol needs at least one image');
    if (images.some((i) => i.bytes.byteLength === 0)) throw new IndexError('BAD_ARGUMENT', 'an enrolled image is empty');
    const withSha = images.map((i) => ({ ...i, sha256: sha256Bytes(i.bytes), size: i.bytes.byteLength }));
    const result = await enrolInDatabase(this.pool, this.names, identity, withSha);
    await this.afterWrite(result);
    const unique = [...new Map(withSha.map((i) => [i.sha256, i])).values()];
    const entries = unique.map((i) => ({ identity, origin: 'enrolment' as const, source: `${identity}/${i.sha256}`, sha256: i.sha256, size: i.size, path: '' }));
    return { ids: result.ids, added: result.added, duplicates: images.length - result.added, images: result.images, entries };
  }

  async deleteIdentity(identity: string): Promise<number> {
    validateIdentity(identity);
    const result = await deleteInDatabase(this.pool, this.names, identity);
    await this.afterWrite(result);
    return result.removed;
  }

  /** Enrolled bytes from the blobs table; folder images from the gallery folder, only while they hash to what was indexed. */
  async imageBytes(entry: CatalogueEntry): Promise<Uint8Array | undefined> {
    if (entry.origin === 'folder') return this.options.gallery.imageBytes(entry);
    const { rows } = await query<{ bytes: Buffer }>(this.pool, `SELECT bytes FROM ${this.names.blobs} WHERE sha256 = $1`, [entry.sha256]);
    const bytes = rows[0] && new Uint8Array(rows[0].bytes);
    return bytes && sha256Bytes(bytes) === entry.sha256 ? bytes : undefined;
  }

  /** Builds and publishes a new generation (pgvector/reindex.ts), then, once started, serves it. Null when another run holds the lease. */
  reindex(options: ReindexOptions = {}): Promise<IndexRunSummary | null> {
    this.reindexing ??= (async () => {
      const { log } = this.options;
      try {
        await ensureSchema(this.pool, this.names);
        const summary = await runPgIndex(
          { pool: this.pool, names: this.names, gallery: this.options.gallery, embedder: this.options.embedder },
          { onWarning: (m) => log.warn(m), ...options, params: { ...this.options.reindex?.params, ...options.params } },
        );
        log.info({ version: summary.version, mode: summary.mode, added: summary.added, removed: summary.removed, changed: summary.changed, seconds: summary.seconds }, 're-index done');
        if (this.started) await this.reload();
        return summary;
      } catch (error) {
        if (error instanceof IndexError && error.code === 'LOCKED') {
          log.warn({ code: 'LOCKED', err: error.message }, 're-index skipped: another run holds the lease');
          return null;
        }
        log.error({ err: (error as Error).message }, 're-index failed; the current generation keeps serving');
        throw error;
      } finally {
        this.reindexing = null;
      }
    })();
    return this.reindexing;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.poller) clearInterval(this.poller);
    await this.reindexing?.catch(() => undefined);
    await this.tracker.settled();
    if (this.ownsPool) await this.pool.end().catch(() => undefined);
  }
}

