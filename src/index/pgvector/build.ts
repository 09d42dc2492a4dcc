/**
 * Building and publishing a pgvector generation: a new table filled to one side (vectors reused
 * from the current generation by id, new ones inserted), then its indexes, then ONE transaction
 * that replays the journal written since the gallery was listed and switches the pointer.
 * Until that commit, every search reads the previous generation; after it, the new one.
 */
import type { Metric } from '../../model/config.js';
import { IndexError } from '../errors.js';
import { imageId } from '../ids.js';
import type { HnswParams } from '../manifest.js';
import type { GenerationInfo } from '../vector-store.js';
import { fromRow, GENERATION_COLUMNS, readServing, type Generation } from './generations.js';
import { query, transaction, type Pool, type PoolClient } from './pool.js';
import { vectorLiteral } from './reader.js';
import { operatorOf, type Names } from './schema.js';
import { deleteImages, insertImages } from './writes.js';

/** One image of a generation. */
export interface GenerationRowInput {
  id: string;
  identity: string;
  origin: 'folder' | 'enrolment';
  source: string;
  sha256: string;
  size: number;
}

export interface NewGeneration {
  model: { id: string; weightsHash: string; dim: number; metric: Metric; normalized: boolean };
  params: Pick<HnswParams, 'M' | 'efConstruction' | 'ef'>;
  /** The journal position the listing reflects (publish replays what came after). */
  journalSeq: number;
  build: GenerationInfo['build'];
  now?: Date;
}

/** Rows per INSERT when loading vectors (one parameter array per column). */
const LOAD_BATCH = 2000;

const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');

/**
 * Creates the table and row of a new generation (state `building`).
 *
 * @example
 * const g = await createGeneration(pool, n, { model, params, journalSeq: 12, build });
 */
export async function createGeneration(pool: Pool, n: Names, spec: NewGeneration): Promise<Generation> {
  return transaction(pool, async (client) => {
    const { rows } = await client.query<{ number: string }>(`SELECT nextval('${n.generationNumbers}') AS number`);
    const number = Number(rows[0].number);
    const name = `g${String(number).padStart(6, '0')}-${stamp(spec.now ?? new Date())}`;
    const tab = n.table(number);
    await client.query(
      `CREATE TABLE ${tab} (
         id text PRIMARY KEY,
         label bigint NOT NULL,
         identity text COLLATE "C" NOT NULL,
         origin text NOT NULL,
         source text NOT NULL,
         sha256 text NOT NULL,
         size int NOT NULL,
         embedding vector(${spec.model.dim}) NOT NULL
       )`,
    );
    const { model, params } = spec;
    const inserted = await client.query(
      `INSERT INTO ${n.generations} (name, tab, state, model_id, weights_hash, dim, metric, normalized, m, ef_construction, ef_search, journal_seq, build)
       VALUES ($1, $2, 'building', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING ${GENERATION_COLUMNS}`,
      [name, tab, model.id, model.weightsHash, model.dim, model.metric, model.normalized, params.M, params.efConstruction, params.ef, spec.journalSeq, JSON.stringify(spec.build)],
    );
    return fromRow(inserted.rows[0]);
  });
}

/**
 * Copies rows whose id the previous generation has (vector and label kept; the rest of the
 * row from `rows`), returns how many were copied.
 */
export async function copyRows(pool: Pool, from: Generation, to: Generation, rows: readonly GenerationRowInput[]): Promise<number> {
  let copied = 0;
  for (let i = 0; i < rows.length; i += LOAD_BATCH * 10) {
    const batch = rows.slice(i, i + LOAD_BATCH * 10);
    const { rowCount } = await query(
      pool,
      `INSERT INTO ${to.tab} (id, label, identity, origin, source, sha256, size, embedding)
       SELECT u.id, o.label, u.identity, u.origin, u.source, u.sha256, u.size, o.embedding
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[]) AS u(id, identity, origin, source, sha256, size)
       JOIN ${from.tab} o ON o.id = u.id`,
      [batch.map((r) => r.id), batch.map((r) => r.identity), batch.map((r) => r.origin), batch.map((r) => r.source), batch.map((r) => r.sha256), batch.map((r) => r.size)],
    );
    copied += rowCount ?? 0;
  }
  return copied;
}

/**
 * Inserts rows with their vectors (row i = `vectors[i*dim…]`), labels from the store's
 * sequence unless `labels` gives them, in batches; `onProgress` after each.
 */
export async function loadRows(
  pool: Pool,
  n: Names,
  to: Generation,
  rows: readonly GenerationRowInput[],
  vectors: Float32Array,
  options: { labels?: readonly number[]; onProgress?: (done: number, total: number) => void } = {},
): Promise<void> {
  const dim = to.dim;
  for (let i = 0; i < rows.length; i += LOAD_BATCH) {
    const batch = rows.slice(i, i + LOAD_BATCH);
    const literals = batch.map((_, j) => vectorLiteral(vectors.subarray((i + j) * dim, (i + j + 1) * dim)));
    await query(
      pool,
      `INSERT INTO ${to.tab} (id, label, identity, origin, source, sha256, size, embedding)
       SELECT u.id, coalesce(u.label, nextval('${n.labels}')), u.identity, u.origin, u.source, u.sha256, u.size, u.embedding::vector
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bigint[]) AS u(id, identity, origin, source, sha256, size, embedding, label)`,
      [
        batch.map((r) => r.id),
        batch.map((r) => r.identity),
        batch.map((r) => r.origin),
        batch.map((r) => r.source),
        batch.map((r) => r.sha256),
        batch.map((r) => r.size),
        literals,
        batch.map((_, j) => options.labels?.[i + j] ?? null),
      ],
    );
    options.onProgress?.(Math.min(i + LOAD_BATCH, rows.length), rows.length);
  }
  // Labels given here must never be handed out again by the sequence.
  if (options.labels) await query(pool, `SELECT setval('${n.labels}', greatest((SELECT last_value FROM ${n.labels}), (SELECT coalesce(max(label), 0) FROM ${to.tab})))`);
}

/**
 * Builds the generation's indexes: HNSW on the embedding (m, ef_construction; the operator class
 * of the model's metric) and b-trees for labels, hashes and identities. Built after loading,
 * which is much faster than inserting into an index. Memory for the graph build is raised for
 * this transaction only.
 */
export async function buildIndexes(pool: Pool, g: Generation, maintenanceMemory = '1GB'): Promise<void> {
  const { opclass } = operatorOf(g.metric);
  await transaction(pool, async (client) => {
    await client.query(`SET LOCAL maintenance_work_mem = '${maintenanceMemory}'`);
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query(`CREATE INDEX ON ${g.tab} USING hnsw (embedding ${opclass}) WITH (m = ${g.m}, ef_construction = ${g.efConstruction})`);
    await client.query(`CREATE UNIQUE INDEX ON ${g.tab} (label)`);
    await client.query(`CREATE INDEX ON ${g.tab} (sha256)`);
    await client.query(`CREATE INDEX ON ${g.tab} (identity)`);
  });
}

/** The vectors of the images enrolled after the listing, for a generation of another model than the serving one. */
export type EmbedEnrolled = (images: { identity: string; sha256: string; size: number }[]) => Promise<Map<string, Float32Array>>;

interface JournalRow {
  seq: string;
  op: 'enrol' | 'delete';
  identity: string;
  images: { sha256: string; size: number }[] | null;
}

/**
 * Replays journal records after `g.journalSeq` into `g` (the writes made while it was built).
 * Vectors come from the current generation when it has the same model, else from `embed`.
 */
async function catchUp(client: PoolClient, n: Names, g: Generation, current: Generation | null, embed: EmbedEnrolled): Promise<number> {
  const { rows } = await client.query<JournalRow>(`SELECT seq, op, identity, images FROM ${n.journal} WHERE seq > $1 ORDER BY seq`, [g.journalSeq]);
  const sameModel = current !== null && current.modelId === g.modelId && current.weightsHash === g.weightsHash && current.dim === g.dim;
  for (const r of rows) {
    if (r.op === 'delete') {
      await deleteImages(client, n, g, r.identity, true);
      continue;
    }
    const images = r.images ?? [];
    if (sameModel) {
      const copied = await client.query<{ id: string; sha256: string; size: number; embedding: string; label: string }>(
        `SELECT id, sha256, size, embedding::text AS embedding, label FROM ${current.tab} WHERE identity = $1 AND sha256 = ANY($2)`,
        [r.identity, images.map((i) => i.sha256)],
      );
      await insertImages(client, n, g, r.identity, copied.rows.map((c) => ({ id: c.id, sha256: c.sha256, size: c.size, vector: c.embedding, label: Number(c.label) })), true);
    } else {
      const vectors = await embed(images.map((i) => ({ identity: r.identity, ...i })));
      const rowsIn = images.filter((i) => vectors.has(i.sha256)).map((i) => ({ id: imageId(r.identity, i.sha256), sha256: i.sha256, size: i.size, vector: vectorLiteral(vectors.get(i.sha256) as Float32Array) }));
      await insertImages(client, n, g, r.identity, rowsIn, true);
    }
  }
  return rows.length ? Number(rows[rows.length - 1].seq) : g.journalSeq;
}

/**
 * Publishes `g`: under the pointer's FOR UPDATE lock, replays the journal written since its
 * listing, counts it, switches the pointer, and moves the old current to `previous` (still
 * written to, for readers pinned to it) and the old previous to `retired`. Then drops the tables
 * of retired generations. Returns the names dropped.
 *
 * @example
 * await publishGeneration(pool, n, g, embedEnrolled);
 */
export async function publishGeneration(pool: Pool, n: Names, g: Generation, embed: EmbedEnrolled): Promise<string[]> {
  await transaction(pool, async (client) => {
    const { current } = await readServing(client, n, 'FOR UPDATE');
    // Counts as of the listing; catch-up adds its own (as live changes).
    await client.query(
      `UPDATE ${n.generations} SET images = s.images, identities = s.identities FROM (SELECT count(*) AS images, count(DISTINCT identity) AS identities FROM ${g.tab}) s WHERE name = $1`,
      [g.name],
    );
    const seq = await catchUp(client, n, { ...g, state: 'building' }, current, embed);
    await client.query(`UPDATE ${n.generations} SET journal_seq = $2 WHERE name = $1`, [g.name, seq]);
    await client.query(`UPDATE ${n.generations} SET state = 'retired' WHERE state = 'previous'`);
    if (current) await client.query(`UPDATE ${n.generations} SET state = 'previous' WHERE name = $1`, [current.name]);
    await client.query(`UPDATE ${n.generations} SET state = 'current' WHERE name = $1`, [g.name]);
    const switched = await client.query(`UPDATE ${n.pointer} SET generation = $1`, [g.name]);
    if (switched.rowCount !== 1) throw new IndexError('STORE', `the pointer row of ${n.schema} is missing`);
  });
  return dropRetired(pool, n);
}

/** Drops the tables of retired generations (and of builds that never finished), keeping their rows as history. */
export async function dropRetired(pool: Pool, n: Names, alsoAbandoned: readonly string[] = []): Promise<string[]> {
  const { rows } = await query<{ name: string; tab: string }>(pool, `SELECT name, tab FROM ${n.generations} WHERE state = 'retired' AND tab <> '' OR name = ANY($1)`, [alsoAbandoned]);
  for (const r of rows) {
    await query(pool, `DROP TABLE IF EXISTS ${r.tab}`);
    await query(pool, `UPDATE ${n.generations} SET state = 'retired', tab = '' WHERE name = $1`, [r.name]);
  }
  return rows.map((r) => r.name);
}
