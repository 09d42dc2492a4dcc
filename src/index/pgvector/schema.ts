/**
 * The pgvector store's tables, in one Postgres schema (default `twinsearch`):
 *   generations   one row per generation: model, parameters, counts, state
 *                 (building → current → previous → retired, then its table is dropped)
 *   pointer       ONE row naming the current generation; publishing switches it in a transaction.
 *                 Writers lock it FOR SHARE, publishing FOR UPDATE, so no write falls between the
 *                 catch-up of a new generation and the switch. It also holds the re-index lease.
 *   journal       enrolments and deletions, written in the same transaction as the vectors
 *   blobs         enrolled image bytes, by sha256
 *   gen_NNNNNN    one table per generation: an image per row, keyed by its content-addressed id,
 *                 with an HNSW index on the embedding
 *   knn()         the search, with hnsw.ef_search set for its own transaction only
 */
import { IndexError } from '../errors.js';
import type { Metric } from '../../model/config.js';
import { query, sqlState, transaction, type Pool } from './pool.js';

/** Schema names this store accepts (unquoted-safe, so they read the same in psql). */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,47}$/;

export const DEFAULT_SCHEMA = 'twinsearch';

/** Quoted, schema-qualified SQL names of one store. */
export interface Names {
  schema: string;
  generations: string;
  pointer: string;
  journal: string;
  blobs: string;
  labels: string;
  generationNumbers: string;
  knn: string;
  /** The table of generation `n`. */
  table(n: number): string;
}

/**
 * @example
 * names('twinsearch').table(3) // '"twinsearch"."gen_000003"'
 */
export function names(schema: string): Names {
  if (!SCHEMA_NAME.test(schema)) throw new IndexError('BAD_ARGUMENT', `schema name ${JSON.stringify(schema)} must be lower-case letters, digits and _ (at most 48), not starting with a digit`);
  const q = (name: string): string => `"${schema}"."${name}"`;
  return {
    schema: `"${schema}"`,
    generations: q('generations'),
    pointer: q('pointer'),
    journal: q('journal'),
    blobs: q('blobs'),
    labels: q('labels'),
    generationNumbers: q('generation_numbers'),
    knn: q('knn'),
    table: (n) => q(`gen_${String(n).padStart(6, '0')}`),
  };
}

/** The pgvector operator and operator class of a model metric (the distance pgvector returns is the metric's). */
export function operatorOf(metric: Metric): { op: '<->' | '<=>'; opclass: 'vector_l2_ops' | 'vector_cosine_ops' } {
  return metric === 'cosine' ? { op: '<=>', opclass: 'vector_cosine_ops' } : { op: '<->', opclass: 'vector_l2_ops' };
}

function ddl(n: Names): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${n.schema};
CREATE TABLE IF NOT EXISTS ${n.generations} (
  name text PRIMARY KEY,
  tab text NOT NULL,
  state text NOT NULL CHECK (state IN ('building', 'current', 'previous', 'retired')),
  created_at timestamptz NOT NULL DEFAULT now(),
  model_id text NOT NULL,
  weights_hash text NOT NULL,
  dim int NOT NULL,
  metric text NOT NULL,
  normalized boolean NOT NULL,
  m int NOT NULL,
  ef_construction int NOT NULL,
  ef_search int NOT NULL,
  journal_seq bigint NOT NULL,
  images bigint NOT NULL DEFAULT 0,
  identities bigint NOT NULL DEFAULT 0,
  live_added bigint NOT NULL DEFAULT 0,
  live_deleted bigint NOT NULL DEFAULT 0,
  build jsonb NOT NULL
);
CREATE TABLE IF NOT EXISTS ${n.pointer} (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  generation text REFERENCES ${n.generations} (name),
  lease_owner text,
  lease_until timestamptz
);
INSERT INTO ${n.pointer} (one) VALUES (true) ON CONFLICT DO NOTHING;
CREATE TABLE IF NOT EXISTS ${n.journal} (
  seq bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now(),
  op text NOT NULL CHECK (op IN ('enrol', 'delete')),
  identity text NOT NULL,
  images jsonb,
  folder jsonb
);
CREATE TABLE IF NOT EXISTS ${n.blobs} (sha256 text PRIMARY KEY, size int NOT NULL, bytes bytea NOT NULL);
CREATE SEQUENCE IF NOT EXISTS ${n.labels} MINVALUE 0 START 0;
CREATE SEQUENCE IF NOT EXISTS ${n.generationNumbers};
CREATE OR REPLACE FUNCTION ${n.knn}(tab regclass, q vector, k int, ef int, exact boolean, op text)
RETURNS TABLE (label bigint, identity text, origin text, source text, sha256 text, distance float8)
LANGUAGE plpgsql AS $fn$
BEGIN
  IF op NOT IN ('<->', '<=>') THEN RAISE EXCEPTION 'unknown operator %', op; END IF;
  -- set_config(..., true) is SET LOCAL: it ends with this statement's transaction.
  PERFORM set_config('hnsw.ef_search', least(greatest(ef, k), 1000)::text, true);
  IF k > 1000 THEN PERFORM set_config('hnsw.iterative_scan', 'strict_order', true); END IF;
  IF exact THEN PERFORM set_config('enable_indexscan', 'off', true); END IF;
  RETURN QUERY EXECUTE format(
    'SELECT label, identity::text, origin, source, sha256, (embedding %s $1)::float8 FROM %s ORDER BY embedding %s $1 LIMIT $2', op, tab, op)
    USING q, k;
END
$fn$;
`;
}

/**
 * Creates the pgvector extension (if missing), the schema and its tables (if missing), under an
 * advisory lock so instances starting together do not race. Refuses with a `SETUP` error that
 * says what an administrator must do when the role may not. A schema set up beforehand (by an
 * administrator) is used as it is: nothing is created, so a role with only table rights works.
 *
 * @example
 * await ensureSchema(pool, names('twinsearch'));
 */
export async function ensureSchema(pool: Pool, n: Names): Promise<void> {
  const ready = await query<{ ready: boolean }>(pool, `SELECT to_regclass($1) IS NOT NULL AND to_regprocedure($2) IS NOT NULL AS ready`, [n.pointer, `${n.knn}(regclass, vector, int, int, boolean, text)`]).catch((error: unknown) => {
    // to_regprocedure fails on the type name `vector` when the extension is missing: not ready.
    if (sqlState(error) === '42704') return { rows: [{ ready: false }] };
    throw error;
  });
  if (ready.rows[0].ready) return;
  await transaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`twinsearch setup ${n.schema}`]);
    const { rows } = await client.query<{ installed: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'vector') AS installed`);
    if (!rows[0].installed) await client.query('CREATE EXTENSION IF NOT EXISTS vector').catch((error: unknown) => {
      throw setupError(error, 'the pgvector extension is not installed in this database and this role may not create it: ask an administrator to run CREATE EXTENSION vector');
    });
    await client.query(ddl(n)).catch((error: unknown) => {
      throw setupError(error, `this role may not create the schema ${n.schema} or its tables: grant it CREATE on the database, or have an administrator create them once (run the store with an owner role)`);
    });
  });
}

function setupError(error: unknown, noPermission: string): unknown {
  const state = sqlState(error);
  if (state === '42501') return new IndexError('SETUP', noPermission, { cause: error });
  if (state === '0A000' || state === '58P01') return new IndexError('SETUP', `this Postgres server has no pgvector extension (${(error as Error).message}): install pgvector on the server, or use a managed Postgres that offers it`, { cause: error });
  return error;
}
