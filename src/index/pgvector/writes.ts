/**
 * Enrolments and deletions of the pgvector store: ONE transaction each writes the journal record,
 * the image bytes and the rows of every generation still served (current and previous), under a
 * FOR SHARE lock of the pointer row. When it commits, every instance's next search sees it, and
 * a re-index publishing meanwhile (FOR UPDATE) replays it into the new generation first.
 */
import { IndexError } from '../errors.js';
import { imageId } from '../ids.js';
import { fromRow, GENERATION_COLUMNS, readServing, type Generation } from './generations.js';
import { transaction, type Pool, type PoolClient } from './pool.js';
import { vectorLiteral } from './reader.js';
import type { Names } from './schema.js';

export interface ImageToEnrol {
  sha256: string;
  size: number;
  bytes: Uint8Array;
  vector: Float32Array;
}

export interface WriteOutcome {
  /** The generation the pointer named while writing, and the written generations' rows after the write. */
  current: string;
  generations: Generation[];
}

/** Generations that take writes: the current one, and older ones of the same model still served. */
async function writable(client: PoolClient, n: Names): Promise<{ current: Generation; targets: Generation[] }> {
  const { current, live } = await readServing(client, n, 'FOR SHARE');
  if (!current) throw new IndexError('NO_CURRENT', 'no generation is published yet: run the index job first');
  const sameModel = live.filter((g) => g !== current && g.modelId === current.modelId && g.weightsHash === current.weightsHash && g.dim === current.dim);
  return { current, targets: [current, ...sameModel] };
}

async function updated(client: PoolClient, n: Names, names: string[]): Promise<Generation[]> {
  const { rows } = await client.query(`SELECT ${GENERATION_COLUMNS} FROM ${n.generations} WHERE name = ANY($1)`, [names]);
  return rows.map(fromRow);
}

/**
 * Inserts images of one identity into `g`'s table (new ids only; labels from the store's
 * sequence unless given) and updates its counts. Returns the ids and labels inserted.
 */
export async function insertImages(
  client: PoolClient,
  n: Names,
  g: Generation,
  identity: string,
  images: readonly { id: string; sha256: string; size: number; vector: string; label?: number }[],
  live: boolean,
): Promise<Map<string, number>> {
  if (images.length === 0) return new Map();
  const before = await client.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${g.tab} WHERE identity = $1`, [identity]);
  const { rows } = await client.query<{ id: string; label: string }>(
    `INSERT INTO ${g.tab} (id, label, identity, origin, source, sha256, size, embedding)
     SELECT u.id, coalesce(u.label, nextval('${n.labels}')), $1, 'enrolment', $1 || '/' || u.sha256, u.sha256, u.size, u.embedding::vector
     FROM unnest($2::text[], $3::text[], $4::int[], $5::text[], $6::bigint[]) AS u(id, sha256, size, embedding, label)
     ON CONFLICT (id) DO NOTHING RETURNING id, label`,
    [identity, images.map((i) => i.id), images.map((i) => i.sha256), images.map((i) => i.size), images.map((i) => i.vector), images.map((i) => i.label ?? null)],
  );
  if (rows.length > 0) {
    await client.query(
      `UPDATE ${n.generations} SET images = images + $2, identities = identities + $3, live_added = live_added + $4 WHERE name = $1`,
      [g.name, rows.length, before.rows[0].count === 0 ? 1 : 0, live ? rows.length : 0],
    );
  }
  return new Map(rows.map((r) => [r.id, Number(r.label)]));
}

/**
 * Deletes every image of an identity from `g`'s table and updates its counts; returns the rows removed.
 */
export async function deleteImages(client: PoolClient, n: Names, g: Generation, identity: string, live: boolean): Promise<{ origin: string; source: string; sha256: string }[]> {
  const { rows } = await client.query<{ origin: string; source: string; sha256: string }>(`DELETE FROM ${g.tab} WHERE identity = $1 RETURNING origin, source, sha256`, [identity]);
  if (rows.length > 0) {
    await client.query(`UPDATE ${n.generations} SET images = images - $2, identities = identities - 1, live_deleted = live_deleted + $3 WHERE name = $1`, [g.name, rows.length, live ? 1 : 0]);
  }
  return rows;
}

/**
 * Enrols images (deduplicated by content) for an identity in one transaction.
 *
 * @example
 * const { ids, added, images } = await enrolInDatabase(pool, n, 'alice', [{ sha256, size, bytes, vector }]);
 */
export async function enrolInDatabase(
  pool: Pool,
  n: Names,
  identity: string,
  images: readonly ImageToEnrol[],
): Promise<WriteOutcome & { ids: string[]; added: number; images: number }> {
  const unique = [...new Map(images.map((i) => [i.sha256, i])).values()];
  return transaction(pool, async (client) => {
    const { current, targets } = await writable(client, n);
    await client.query(`INSERT INTO ${n.blobs} (sha256, size, bytes) SELECT * FROM unnest($1::text[], $2::int[], $3::bytea[]) ON CONFLICT (sha256) DO NOTHING`, [
      unique.map((i) => i.sha256),
      unique.map((i) => i.size),
      unique.map((i) => Buffer.from(i.bytes.buffer, i.bytes.byteOffset, i.bytes.byteLength)),
    ]);
    await client.query(`INSERT INTO ${n.journal} (op, identity, images) VALUES ('enrol', $1, $2)`, [identity, JSON.stringify(unique.map((i) => ({ sha256: i.sha256, size: i.size })))]);
    const rows = unique.map((i) => ({ id: imageId(identity, i.sha256), sha256: i.sha256, size: i.size, vector: vectorLiteral(i.vector) }));
    const labels = await insertImages(client, n, current, identity, rows, true);
    // Older generations still served get the same rows under the same labels.
    for (const g of targets.slice(1)) await insertImages(client, n, g, identity, rows.filter((r) => labels.has(r.id)).map((r) => ({ ...r, label: labels.get(r.id) })), true);
    const count = await client.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${current.tab} WHERE identity = $1`, [identity]);
    return { ids: rows.map((r) => r.id), added: labels.size, images: count.rows[0].count, current: current.name, generations: await updated(client, n, targets.map((g) => g.name)) };
  });
}

/**
 * Deletes an identity in one transaction: its rows in every served generation, and a journal
 * record tombstoning its folder images (as indexed) so the next re-index leaves them out.
 * Resolves `removed: 0` and writes nothing for an identity the current generation does not have.
 *
 * @example
 * const { removed } = await deleteInDatabase(pool, n, 'alice'); // 0 → unknown identity
 */
export async function deleteInDatabase(pool: Pool, n: Names, identity: string): Promise<WriteOutcome & { removed: number }> {
  return transaction(pool, async (client) => {
    const { current, targets } = await writable(client, n);
    const removed = await deleteImages(client, n, current, identity, true);
    if (removed.length === 0) return { removed: 0, current: current.name, generations: [] };
    for (const g of targets.slice(1)) await deleteImages(client, n, g, identity, true);
    const folder = removed.filter((r) => r.origin === 'folder').map((r) => ({ source: r.source, sha256: r.sha256 }));
    await client.query(`INSERT INTO ${n.journal} (op, identity, folder) VALUES ('delete', $1, $2)`, [identity, JSON.stringify(folder)]);
    return { removed: removed.length, current: current.name, generations: await updated(client, n, targets.map((g) => g.name)) };
  });
}
