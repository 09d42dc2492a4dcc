/**
 * The Postgres connection pool and the mapping of its errors to the index's. Small by default,
 * with short timeouts, so that many serverless instances fit within a database's connection
 * limit and a dead database fails a request quickly instead of hanging it (docs/index.md,
 * "Pooling for serverless").
 */
import pg from 'pg';
import { IndexError } from '../errors.js';

export interface PoolOptions {
  /** postgres://user:password@host:port/database (the usual DATABASE_URL). */
  url: string;
  /** Connections per instance. Default 4: a search holds one for one round trip. */
  max?: number;
  /** Give up connecting after this many ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Close connections idle this long (ms). Default 10000: a frozen serverless instance holds none for long. */
  idleTimeoutMs?: number;
}

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/** Connection-level failures: the database is down, unreachable, restarting or out of connections. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EPIPE', '57P01', '57P02', '57P03', '53300', '08000', '08001', '08003', '08006']);

/**
 * @example
 * const pool = createPool({ url: process.env.DATABASE_URL!, max: 2 });
 */
export function createPool(options: PoolOptions): Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.max ?? 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 10_000,
    allowExitOnIdle: true,
  });
  // An idle connection dropped by the server must not crash the process: the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/** The SQLSTATE (or Node socket code) of an error from pg, if any. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Maps a pg error to an IndexError where it means something to callers (UNAVAILABLE for a
 * database that cannot be reached); other errors pass through unchanged.
 *
 * @example
 * await pool.query(sql).catch((e) => { throw toIndexError(e); });
 */
export function toIndexError(error: unknown): unknown {
  if (error instanceof IndexError) return error;
  const code = sqlState(error);
  const message = (error as Error | null)?.message ?? String(error);
  if ((code && UNAVAILABLE_CODES.has(code)) || /timeout|terminated|Connection terminated/i.test(message)) {
    return new IndexError('UNAVAILABLE', `Postgres cannot be reached: ${message}`, { cause: error });
  }
  return error;
}

/**
 * Runs `work` in one transaction on one pooled connection (BEGIN … COMMIT, ROLLBACK on error).
 * Settings for the transaction go through `SET LOCAL` inside it, never a plain SET: a pooled
 * connection (or a multiplexing proxy) is shared, and a session setting would leak to other work.
 *
 * @example
 * await transaction(pool, async (client) => { await client.query('SET LOCAL maintenance_work_mem = \'512MB\''); … });
 */
export async function transaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  let client: PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw toIndexError(error);
  }
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw toIndexError(error);
  } finally {
    client.release(broken);
  }
}

/**
 * One query on the pool, errors mapped.
 *
 * @example
 * const { rows } = await query(pool, 'SELECT 1 AS one');
 */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(pool: Pool | PoolClient, text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(text, values);
  } catch (error) {
    throw toIndexError(error);
  }
}
