/**
 * The index job of the pgvector store: list the gallery (the folder, plus the journal kept in
 * Postgres), reuse the vectors of images the current generation already has (same id, same
 * model), embed the rest, load them into a new generation's table, index it and publish it
 * (build.ts). One run at a time, by a lease on the pointer row; the serving generation is
 * untouched until the publishing transaction commits, and a failed run drops its table.
 */
import { hostname } from 'node:os';
import type { Embedder, EmbedInput } from '../../embedding/index.js';
import { IndexError } from '../errors.js';
import { DEFAULT_HNSW_PARAMS } from '../hnsw.js';
import { imageId } from '../ids.js';
import type { JournalRecord } from '../journal.js';
import type { HnswParams } from '../manifest.js';
import { definedOnly, modelName, type IndexRunSummary } from '../reindex.js';
import { effectiveEntries, replay, type GalleryEntry, type GalleryStore } from '../store.js';
import type { ReindexOptions } from '../vector-store.js';
import { buildIndexes, copyRows, createGeneration, dropRetired, loadRows, publishGeneration, type EmbedEnrolled, type GenerationRowInput } from './build.js';
import { readServing, releaseLease, takeLease, type Generation } from './generations.js';
import { query, transaction, type Pool } from './pool.js';
import type { Names } from './schema.js';

/** The lease is renewed this often while a run lasts, and expires this long after a run died. */
const LEASE_SECONDS = 120;

export interface PgIndexContext {
  pool: Pool;
  names: Names;
  /** The folder half of the gallery (and its hash cache). */
  gallery: GalleryStore;
  embedder: Embedder;
}

interface JournalRow {
  seq: string;
  at: Date;
  op: 'enrol' | 'delete';
  identity: string;
  images: { sha256: string; size: number }[] | null;
  folder: { source: string; sha256: string }[] | null;
}

/** The journal as of now, read while holding the pointer FOR UPDATE so no write in flight is missed. */
async function journalSnapshot(pool: Pool, n: Names): Promise<{ records: JournalRecord[]; lastSeq: number; current: Generation | null }> {
  return transaction(pool, async (client) => {
    const { current } = await readServing(client, n, 'FOR UPDATE');
    const { rows } = await client.query<JournalRow>(`SELECT seq, at, op, identity, images, folder FROM ${n.journal} ORDER BY seq`);
    const records: JournalRecord[] = rows.map((r) =>
      r.op === 'enrol'
        ? { seq: Number(r.seq), at: r.at.toISOString(), op: 'enrol', identity: r.identity, images: r.images ?? [] }
        : { seq: Number(r.seq), at: r.at.toISOString(), op: 'delete', identity: r.identity, folder: r.folder ?? [] },
    );
    return { records, lastSeq: records.length ? records[records.length - 1].seq : 0, current };
  });
}

/** Enrolled image bytes by sha256 (from the blobs table). */
export async function readBlobs(pool: Pool, n: Names, sha256s: readonly string[]): Promise<Map<string, Uint8Array>> {
  const { rows } = await query<{ sha256: string; bytes: Buffer }>(pool, `SELECT sha256, bytes FROM ${n.blobs} WHERE sha256 = ANY($1)`, [sha256s]);
  return new Map(rows.map((r) => [r.sha256, new Uint8Array(r.bytes)]));
}

/** Embeds distinct images (by sha256); returns the vectors of those that decoded, and the failures. */
async function embedImages(ctx: PgIndexContext, images: readonly GalleryEntry[], onProgress?: (done: number, total: number) => void): Promise<{ vectors: Map<string, Float32Array>; failed: { entry: GalleryEntry; reason: string }[] }> {
  const distinct = [...new Map(images.map((e) => [e.sha256, e])).values()];
  const blobs = await readBlobs(ctx.pool, ctx.names, distinct.filter((e) => e.origin === 'enrolment').map((e) => e.sha256));
  // Folder images in object storage are fetched into the instance's cache first.
  const folder = distinct.filter((e) => e.origin === 'folder');
  const paths = await ctx.gallery.files(folder);
  const folderFiles = new Map(folder.map((e, i) => [e.sha256, paths[i]]));
  const inputs: EmbedInput[] = distinct.map((e) => (e.origin === 'folder' ? (folderFiles.get(e.sha256) as string) : (blobs.get(e.sha256) ?? new Uint8Array(0))));
  const { vectors, failed } = await ctx.embedder.embedAll(inputs, { onProgress });
  const dim = ctx.embedder.recipe.dim;
  const bad = new Set(failed.map((f) => f.index));
  const out = new Map<string, Float32Array>();
  distinct.forEach((e, i) => {
    if (!bad.has(i)) out.set(e.sha256, vectors.slice(i * dim, (i + 1) * dim));
  });
  return { vectors: out, failed: failed.map((f) => ({ entry: distinct[f.index], reason: f.reason })) };
}

interface PreviousRow {
  id: string;
  origin: string;
  source: string;
  sha256: string;
}

const key = (origin: string, source: string): string => `${origin}\0${source}`;

/**
 * Runs the index job and returns its summary (the same shape as the local store's). Throws
 * `IndexError` LOCKED (another run holds the lease), OTHER_MODEL, EMPTY_GALLERY.
 *
 * @example
 * const summary = await runPgIndex({ pool, names: names('twinsearch'), gallery, embedder }, { mode: 'reindex' });
 */
export async function runPgIndex(ctx: PgIndexContext, options: ReindexOptions = {}): Promise<IndexRunSummary> {
  const started = performance.now();
  const warn = options.onWarning ?? (() => {});
  const progress = options.onProgress ?? (() => {});
  const { pool, names: n, embedder } = ctx;
  const owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
  if (!(await takeLease(pool, n, owner, LEASE_SECONDS))) throw new IndexError('LOCKED', `another index run holds the lease on ${n.schema}`);
  const renew = setInterval(() => void takeLease(pool, n, owner, LEASE_SECONDS).catch(() => undefined), (LEASE_SECONDS * 1000) / 4);
  renew.unref();
  let building: Generation | null = null;
  try {
    const t0 = performance.now();
    progress('hash', 0, 1);
    const journal = await journalSnapshot(pool, n);
    const previous = journal.current;
    const { recipe } = embedder;
    if (previous && modelName(previous.modelId) !== modelName(recipe.modelId) && !options.replaceModel) {
      throw new IndexError('OTHER_MODEL', `${n.schema} holds the index of model ${previous.modelId}; this run embeds with model ${recipe.modelId}. Give this model its own schema (PG_SCHEMA), or replace the other model's index with --force`);
    }
    const warnings: string[] = [];
    const folder = await ctx.gallery.folderEntries({}, warnings);
    const listing = effectiveEntries(folder.entries, replay(journal.records), (identity, sha256, size) => ({ identity, origin: 'enrolment', source: `${identity}/${sha256}`, sha256, size, path: '' }));
    warnings.forEach(warn);
    progress('hash', 1, 1);
    if (listing.length === 0 && !(options.mode !== 'build' && previous)) throw new IndexError('EMPTY_GALLERY', `no images in ${ctx.gallery.root} (nor enrolled in ${n.schema})`);
    const rows = [...new Map(listing.map((e) => [imageId(e.identity, e.sha256), e])).entries()].map(([id, e]) => ({ id, entry: e }));

    const sameModel = previous !== null && previous.modelId === recipe.modelId && previous.weightsHash === recipe.weightsHash && previous.dim === recipe.dim && previous.metric === recipe.metric;
    const before = previous ? (await query<PreviousRow>(pool, `SELECT id, origin, source, sha256 FROM ${previous.tab}`)).rows : [];
    const reusable = new Set(sameModel && options.mode !== 'build' ? before.map((r) => r.id) : []);
    const shaBySource = new Map(before.map((r) => [key(r.origin, r.source), r.sha256]));
    const listed = new Set(listing.map((e) => key(e.origin, e.source)));
    const counts = { added: 0, changed: 0, removed: before.filter((r) => !listed.has(key(r.origin, r.source))).length, unchanged: 0 };
    for (const e of listing) {
      const was = shaBySource.get(key(e.origin, e.source));
      if (was === undefined) counts.added++;
      else if (was !== e.sha256) counts.changed++;
      else counts.unchanged++;
    }
    const t1 = performance.now();

    const toEmbed = rows.filter((r) => !reusable.has(r.id)).map((r) => r.entry);
    const embedded = await embedImages(ctx, toEmbed, (d, t) => progress('embed', d, t));
    for (const f of embedded.failed.slice(0, 10)) warn(`left out ${f.entry.origin === 'folder' ? f.entry.path : f.entry.source}: ${f.reason}`);
    if (embedded.failed.length > 10) warn(`… and ${embedded.failed.length - 10} more unreadable images`);
    const t2 = performance.now();

    const params: Pick<HnswParams, 'M' | 'efConstruction' | 'ef'> = {
      M: DEFAULT_HNSW_PARAMS.M,
      efConstruction: DEFAULT_HNSW_PARAMS.efConstruction,
      ef: DEFAULT_HNSW_PARAMS.ef,
      ...(previous ? { M: previous.m, efConstruction: previous.efConstruction, ef: previous.efSearch } : {}),
      ...definedOnly(options.params ?? {}),
    };
    const mode = sameModel && options.mode !== 'build' ? 'rebuild' : 'full';
    const reason = !previous ? 'no previous generation' : mode === 'full' ? (sameModel ? 'full build requested' : `model changed (${previous.modelId} → ${recipe.modelId})`) : 'a new table per generation, vectors reused by id';
    const model = { id: recipe.modelId, weightsHash: recipe.weightsHash, dim: recipe.dim, metric: recipe.metric, normalized: recipe.normalized };
    building = await createGeneration(pool, n, { model, params, journalSeq: journal.lastSeq, build: { mode, reason, seconds: 0 } });
    const reused: GenerationRowInput[] = [];
    const fresh: GenerationRowInput[] = [];
    const freshVectors: Float32Array[] = [];
    for (const { id, entry: e } of rows) {
      const row = { id, identity: e.identity, origin: e.origin, source: e.source, sha256: e.sha256, size: e.size };
      if (reusable.has(id)) reused.push(row);
      else if (embedded.vectors.has(e.sha256)) {
        fresh.push(row);
        freshVectors.push(embedded.vectors.get(e.sha256) as Float32Array);
      }
    }
    if (previous && reused.length) await copyRows(pool, previous, building, reused);
    const flat = new Float32Array(freshVectors.length * recipe.dim);
    freshVectors.forEach((v, i) => flat.set(v, i * recipe.dim));
    await loadRows(pool, n, building, fresh, flat, { onProgress: (d, t) => progress('graph', d, t) });
    await buildIndexes(pool, building);
    const t3 = performance.now();

    progress('write', 0, 1);
    const seconds = (performance.now() - started) / 1000;
    await query(pool, `UPDATE ${n.generations} SET build = $2 WHERE name = $1`, [building.name, JSON.stringify({ mode, reason, seconds: Math.round(seconds * 1000) / 1000 })]);
    const embedEnrolled: EmbedEnrolled = async (images) => {
      const result = await embedImages(ctx, images.map((i) => ({ ...i, origin: 'enrolment', source: `${i.identity}/${i.sha256}`, path: '' })));
      return result.vectors;
    };
    const pruned = await publishGeneration(pool, n, building, embedEnrolled);
    const published = building;
    building = null;
    progress('write', 1, 1);
    const after = await readServing(pool, n);
    const t4 = performance.now();
    return {
      version: published.name,
      parent: previous?.name ?? null,
      mode,
      reason,
      ...counts,
      embedded: embedded.vectors.size,
      failed: embedded.failed.length,
      images: after.current?.images ?? 0,
      identities: after.current?.identities ?? 0,
      deleted: 0,
      seconds: (t4 - started) / 1000,
      timings: { list: (t1 - t0) / 1000, embed: (t2 - t1) / 1000, graph: (t3 - t2) / 1000, write: (t4 - t3) / 1000 },
      pruned,
    };
  } catch (error) {
    if (building) await dropRetired(pool, n, [building.name]).catch(() => undefined);
    throw error;
  } finally {
    clearInterval(renew);
    await releaseLease(pool, n, owner).catch(() => undefined);
  }
}
