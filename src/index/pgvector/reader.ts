/**
 * A reader pinned to one pgvector generation: every query of a request goes to that
 * generation's table, so a generation published meanwhile does not change its answers.
 */
import { normalizeRowsInPlace } from '../distance.js';
import { IndexError } from '../errors.js';
import { bestPerIdentity, IDENTITY_OVERFETCH, type SearchHit, type SearchOptions } from '../live-snapshot.js';
import type { CatalogueEntry, GenerationInfo, IdentityPage, StoreReader } from '../vector-store.js';
import type { Generation } from './generations.js';
import { query, sqlState, type Pool } from './pool.js';
import { operatorOf, type Names } from './schema.js';

interface HitRow {
  label: string;
  identity: string;
  origin: CatalogueEntry['origin'];
  source: string;
  sha256: string;
  distance: number;
}

interface EntryRow {
  label: string;
  identity: string;
  origin: CatalogueEntry['origin'];
  source: string;
  sha256: string;
  size: number;
}

export interface PgReaderContext {
  pool: Pool;
  names: Names;
  /** Search ef when a query gives none; default the generation's. */
  ef?: number;
  /** The generation's row as last read (counts change with live writes). */
  latest(name: string): Generation;
  info(generation: Generation): GenerationInfo;
  /**
   * The reader of the generation now current, after a reload: for a request whose generation was
   * retired (its table dropped) while it ran, which only happens when two generations were
   * published during one request.
   */
  successor(): Promise<PgReader | null>;
}

/** `[x,y,…]`, the text form of a pgvector value. */
export function vectorLiteral(v: ArrayLike<number>): string {
  return `[${Array.prototype.join.call(v, ',')}]`;
}

/**
 * @example
 * const reader = new PgReader(ctx, generation); await reader.search(vector, 5, { level: 'identity' });
 */
export class PgReader implements StoreReader {
  readonly generation: string;
  private readonly op: '<->' | '<=>';

  constructor(
    private readonly ctx: PgReaderContext,
    private readonly gen: Generation,
  ) {
    this.generation = gen.name;
    this.op = operatorOf(gen.metric).op;
  }

  /** Runs `work` on this generation, or on its successor if its table is gone (SQLSTATE 42P01). */
  private async pinned<T>(work: (reader: PgReader) => Promise<T>): Promise<T> {
    try {
      return await work(this);
    } catch (error) {
      if (sqlState(error) !== '42P01') throw error;
      const next = await this.ctx.successor();
      if (!next || next.generation === this.generation) throw new IndexError('NO_SNAPSHOT', `generation ${this.generation} was retired`, { cause: error });
      return work(next);
    }
  }

  info(): GenerationInfo {
    return this.ctx.info(this.ctx.latest(this.gen.name));
  }

  private prepare(vector: Float32Array | readonly number[]): string {
    if (vector.length !== this.gen.dim) throw new IndexError('BAD_ARGUMENT', `vector has ${vector.length} dimensions, the index ${this.gen.dim}`);
    const v = Float32Array.from(vector);
    for (let j = 0; j < v.length; j++) if (!Number.isFinite(v[j])) throw new IndexError('BAD_ARGUMENT', 'vector contains NaN or infinity');
    return vectorLiteral(this.gen.normalized ? normalizeRowsInPlace(v, v.length) : v);
  }

  private async nearest(q: string, n: number, ef: number, exact: boolean): Promise<SearchHit[]> {
    const { rows } = await query<HitRow>(this.ctx.pool, `SELECT * FROM ${this.ctx.names.knn}($1::regclass, $2::vector, $3, $4, $5, $6)`, [this.gen.tab, q, n, ef, exact, this.op]);
    return rows.map((r) => ({ label: Number(r.label), identity: r.identity, origin: r.origin, source: r.source, sha256: r.sha256, distance: Math.max(0, r.distance) }));
  }

  search(vector: Float32Array | readonly number[], k: number, options: SearchOptions = {}): Promise<SearchHit[]> {
    return this.pinned((reader) => reader.searchHere(vector, k, options));
  }

  identities(after: string | undefined, limit: number): Promise<IdentityPage> {
    return this.pinned((reader) => reader.identitiesHere(after, limit));
  }

  image(key: string): Promise<CatalogueEntry | undefined> {
    return this.pinned((reader) => reader.imageHere(key));
  }

  private async searchHere(vector: Float32Array | readonly number[], k: number, options: SearchOptions): Promise<SearchHit[]> {
    if (!Number.isInteger(k) || k < 1) throw new IndexError('BAD_ARGUMENT', `k must be a positive integer, got ${k}`);
    const ef = options.ef ?? this.ctx.ef ?? this.gen.efSearch;
    if (!Number.isInteger(ef) || ef < 1) throw new IndexError('BAD_ARGUMENT', `ef must be a positive integer, got ${ef}`);
    const q = this.prepare(vector);
    const exact = options.exact ?? false;
    if ((options.level ?? 'image') === 'image') return this.nearest(q, k, ef, exact);
    const { images, identities } = this.ctx.latest(this.gen.name);
    const wanted = Math.min(k, identities);
    for (let fetch = k * IDENTITY_OVERFETCH; ; fetch *= 2) {
      const best = bestPerIdentity(await this.nearest(q, fetch, ef, exact));
      if (best.length >= wanted || fetch >= images) return best.slice(0, k);
    }
  }

  private async identitiesHere(after: string | undefined, limit: number): Promise<IdentityPage> {
    // identity is COLLATE "C": byte order, the same cursors as the local store.
    const { rows } = await query<{ identity: string; images: number }>(
      this.ctx.pool,
      `SELECT identity::text AS identity, count(*)::int AS images FROM ${this.gen.tab} WHERE $1::text IS NULL OR identity > $1::text GROUP BY identity ORDER BY identity LIMIT $2`,
      [after ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    return { identities: page, next: rows.length > limit ? page[page.length - 1].identity : null };
  }

  private async imageHere(key: string): Promise<CatalogueEntry | undefined> {
    const column = /^\d{1,10}$/.test(key) ? 'label' : /^[0-9a-f]{64}$/.test(key) ? 'sha256' : null;
    if (!column) return undefined;
    const { rows } = await query<EntryRow>(
      this.ctx.pool,
      `SELECT label, identity::text AS identity, origin, source, sha256, size FROM ${this.gen.tab} WHERE ${column} = $1 ORDER BY label LIMIT 1`,
      [column === 'label' ? Number(key) : key],
    );
    const r = rows[0];
    return r && { label: Number(r.label), identity: r.identity, origin: r.origin, source: r.source, sha256: r.sha256, size: r.size };
  }
}
