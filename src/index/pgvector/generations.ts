/**
 * Generation rows of the pgvector store: reading what is served, and the re-index lease.
 * A generation is a table of images (gen_NNNNNN) plus a row in `generations` saying which model
 * and parameters built it and how many images and identities it holds.
 */
import type { Metric } from '../../model/config.js';
import type { GenerationInfo, StoreCapabilities } from '../vector-store.js';
import { query, type Pool, type PoolClient } from './pool.js';
import type { Names } from './schema.js';

export type GenerationState = 'building' | 'current' | 'previous' | 'retired';

export interface Generation {
  name: string;
  /** Its table, schema-qualified and quoted. */
  tab: string;
  state: GenerationState;
  createdAt: string;
  modelId: string;
  weightsHash: string;
  dim: number;
  metric: Metric;
  normalized: boolean;
  m: number;
  efConstruction: number;
  efSearch: number;
  journalSeq: number;
  images: number;
  identities: number;
  liveAdded: number;
  liveDeleted: number;
  build: GenerationInfo['build'];
}

interface GenerationRow {
  name: string;
  tab: string;
  state: GenerationState;
  created_at: Date;
  model_id: string;
  weights_hash: string;
  dim: number;
  metric: Metric;
  normalized: boolean;
  m: number;
  ef_construction: number;
  ef_search: number;
  journal_seq: string;
  images: string;
  identities: string;
  live_added: string;
  live_deleted: string;
  build: GenerationInfo['build'];
}

export const GENERATION_COLUMNS = 'name, tab, state, created_at, model_id, weights_hash, dim, metric, normalized, m, ef_construction, ef_search, journal_seq, images, identities, live_added, live_deleted, build';

export function fromRow(r: GenerationRow): Generation {
  return {
    name: r.name,
    tab: r.tab,
    state: r.state,
    createdAt: r.created_at.toISOString(),
    modelId: r.model_id,
    weightsHash: r.weights_hash,
    dim: r.dim,
    metric: r.metric,
    normalized: r.normalized,
    m: r.m,
    efConstruction: r.ef_construction,
    efSearch: r.ef_search,
    journalSeq: Number(r.journal_seq),
    images: Number(r.images),
    identities: Number(r.identities),
    liveAdded: Number(r.live_added),
    liveDeleted: Number(r.live_deleted),
    build: r.build,
  };
}

/** The served generations: the one the pointer names, and every one still written to (current, previous). */
export interface Serving {
  current: Generation | null;
  live: Generation[];
}

/**
 * @example
 * const { current } = await readServing(pool, names('twinsearch')); current?.name // 'g000003-20261205T170000Z'
 */
export async function readServing(db: Pool | PoolClient, n: Names, lock?: 'FOR SHARE' | 'FOR UPDATE'): Promise<Serving> {
  const pointer = await query<{ generation: string | null }>(db, `SELECT generation FROM ${n.pointer} ${lock ?? ''}`);
  const { rows } = await query<GenerationRow>(db, `SELECT ${GENERATION_COLUMNS} FROM ${n.generations} WHERE state IN ('current', 'previous') OR name = $1`, [pointer.rows[0]?.generation ?? null]);
  const live = rows.map(fromRow);
  const current = live.find((g) => g.name === pointer.rows[0]?.generation) ?? null;
  return { current, live: live.filter((g) => g.state !== 'retired') };
}

/** What a generation reports as `GenerationInfo`. */
export function generationInfo(g: Generation, capabilities: StoreCapabilities, ef: number): GenerationInfo {
  return {
    generation: g.name,
    engine: 'pgvector',
    capabilities,
    createdAt: g.createdAt,
    model: { id: g.modelId, weightsHash: g.weightsHash },
    dim: g.dim,
    metric: g.metric,
    normalized: g.normalized,
    images: g.images,
    identities: g.identities,
    // pgvector deletes rows; its graph drops dead tuples at VACUUM, never visible to searches.
    deleted: 0,
    liveAdded: g.liveAdded,
    liveDeleted: g.liveDeleted,
    journalSeq: g.journalSeq,
    params: { M: g.m, efConstruction: g.efConstruction, ef },
    build: g.build,
  };
}

/**
 * Takes the re-index lease (a row lock would not survive a pooled or multiplexed connection, an
 * advisory lock would be shared by every client of a multiplexing proxy). True when taken.
 *
 * @example
 * if (!(await takeLease(pool, n, 'host:123', 600))) throw new IndexError('LOCKED', '…');
 */
export async function takeLease(pool: Pool, n: Names, owner: string, seconds: number): Promise<boolean> {
  const { rowCount } = await query(
    pool,
    `UPDATE ${n.pointer} SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
     WHERE lease_until IS NULL OR lease_until < now() OR lease_owner = $1`,
    [owner, seconds],
  );
  return rowCount === 1;
}

export async function releaseLease(pool: Pool, n: Names, owner: string): Promise<void> {
  await query(pool, `UPDATE ${n.pointer} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1`, [owner]);
}
