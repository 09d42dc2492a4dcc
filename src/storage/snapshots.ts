/**
 * Index snapshots in object storage: how they are laid out, published and read back.
 *
 *   <index>/files/<sha256>                        every file of every snapshot, under its content hash:
 *                                                 a key is written once and never changes
 *   <index>/snapshots/<version>.<id16>.json       one record per snapshot a publisher got as far as
 *                                                 publishing (its files, its parent), written before
 *                                                 it tries to move CURRENT
 *   <index>/CURRENT                               the published snapshot's record itself (JSON)
 *
 * Publishing a snapshot: upload its files, write its record, check the files are all there, then
 * move CURRENT with a conditional write: `If-Match` on the ETag of the CURRENT it was built on, or
 * `If-None-Match: *` when there was none. CURRENT therefore only ever names a snapshot whose files
 * were all uploaded first, and of two publishers that built on the same CURRENT exactly one moves
 * it; the other is told (`conflict`) and builds again on the winner's snapshot, so neither
 * snapshot's changes are lost silently.
 *
 * Reading: GET CURRENT (with `If-None-Match` on the last ETag seen, so an unchanged CURRENT costs
 * one small request), download each file into the content cache (verified by sha256), and lay the
 * files out as a snapshot folder that the local store opens like any other.
 *
 * Pruning (after a publish) never deletes a file that CURRENT names, that a snapshot retired less
 * than `graceMs` ago names (a reader may still be downloading it), or that was uploaded less than
 * `graceMs` ago (a publisher may be about to name it).
 */
import { createHash } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { CHECKSUMS_FILE, readChecksums, sha256Bytes } from '../index/checksums.js';
import { IndexError } from '../index/errors.js';
import { CURRENT_FILE } from '../index/snapshot.js';
import { isVersionName, versionSequence } from '../index/version.js';
import { ObjectBucket } from './bucket.js';
import { ContentCache, type CachedFile } from './content-cache.js';
import { parseObjectUri } from './location.js';
import { scratchPath } from './scratch.js';

const FILES = 'files/';
const RECORDS = 'snapshots/';
const CURRENT = CURRENT_FILE;

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const FileRef = z.object({ sha256: Sha256, size: z.number().int().nonnegative() });

export const SnapshotRecordSchema = z.object({
  format: z.literal(1),
  version: z.string().refine(isVersionName, 'not a snapshot version name'),
  /** sha256 of the version and its files: two different snapshots never share it. */
  id: Sha256,
  parent: z.object({ version: z.string(), id: Sha256 }).nullable(),
  files: z.record(z.string(), FileRef),
  writtenAt: z.string(),
});
export type SnapshotRecord = z.infer<typeof SnapshotRecordSchema>;

/** CURRENT as read: the record and the ETag to make the next conditional write on. */
export interface CurrentObject {
  record: SnapshotRecord;
  etag: string;
}

export interface FetchTimings {
  /** Files downloaded now (the others came from the cache) and their bytes. */
  downloaded: number;
  bytes: number;
  downloadMs: number;
  verifyMs: number;
}

/** The id of a snapshot: sha256 over its version and its files, in name order. */
export function snapshotId(version: string, files: SnapshotRecord['files']): string {
  const lines = Object.keys(files)
    .sort()
    .map((name) => `${name}\t${files[name].sha256}\t${files[name].size}`);
  return createHash('sha256').update(`${version}\n${lines.join('\n')}\n`).digest('hex');
}

const recordName = (r: Pick<SnapshotRecord, 'version' | 'id'>): string => `${RECORDS}${r.version}.${r.id.slice(0, 16)}.json`;

function parseRecord(body: Buffer, where: string): SnapshotRecord {
  try {
    const record = SnapshotRecordSchema.parse(JSON.parse(body.toString('utf8')));
    if (snapshotId(record.version, record.files) !== record.id) throw new Error('its id does not match its files');
    return record;
  } catch (error) {
    throw new IndexError('NO_SNAPSHOT', `${where} is not a valid snapshot record: ${(error as Error).message}`, { cause: error });
  }
}

/** Hard-links a cached file into a snapshot folder (copies across filesystems). */
async function place(from: string, to: string): Promise<void> {
  await link(from, to).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EXDEV' && error.code !== 'EPERM') throw error;
    await copyFile(from, to);
  });
}

export interface PruneOptions {
  /** Snapshots kept on CURRENT's line besides CURRENT (for rollback), however old. Default 3. */
  keep?: number;
  /** Nothing retired or uploaded less than this long ago is deleted. Default one hour. */
  graceMs?: number;
  now?: Date;
}

export const DEFAULT_GRACE_MS = 60 * 60 * 1000;

/**
 * The snapshots of one `s3://bucket/prefix` index.
 *
 * @example
 * const snapshots = new ObjectSnapshots('s3://twinsearch/index/faces');
 * const current = await snapshots.current();                   // null until something is published
 * const { indexDir } = await snapshots.fetch(current.record, '/tmp/twinsearch/open/1234');
 */
export class ObjectSnapshots {
  readonly bucket: ObjectBucket;
  readonly cache: ContentCache;
  private last: CurrentObject | null = null;

  constructor(
    readonly uri: string,
    options: { cache?: ContentCache; bucket?: ObjectBucket } = {},
  ) {
    this.bucket = options.bucket ?? new ObjectBucket(parseObjectUri(uri));
    this.cache = options.cache ?? new ContentCache(scratchPath('snapshot-files'));
  }

  /**
   * What CURRENT names now, or null when nothing was published. An unchanged CURRENT costs one
   * conditional GET answered 304.
   */
  async current(): Promise<CurrentObject | null> {
    const got = await this.bucket.get(CURRENT, this.last ? { ifNoneMatch: this.last.etag } : {});
    if (got === 'not-modified' && this.last) return this.last;
    if (got === 'not-modified' || got === null) {
      this.last = null;
      return got === null ? null : this.current();
    }
    this.last = { record: parseRecord(got.body, this.bucket.uri(CURRENT)), etag: got.etag };
    return this.last;
  }

  /**
   * Downloads (or finds in the cache) and verifies every file of `record`, and lays them out as
   * the snapshot folder `<into>/<version>/` with `<into>/CURRENT` naming it, ready for
   * `openSnapshot(into)`. Throws `CORRUPT_SNAPSHOT` / `NO_SNAPSHOT` and leaves nothing behind.
   */
  async fetch(record: SnapshotRecord, into: string): Promise<{ indexDir: string; timings: FetchTimings }> {
    const timings: FetchTimings = { downloaded: 0, bytes: 0, downloadMs: 0, verifyMs: 0 };
    const dir = join(into, record.version);
    try {
      const names = Object.keys(record.files);
      const t0 = performance.now();
      // Every download settles before a failure is reported, so none is left writing into the cache.
      const settled = await Promise.allSettled(names.map((name) => this.cache.fetch(this.bucket, `${FILES}${record.files[name].sha256}`, record.files[name])));
      const failed = settled.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      const cached = settled.map((r) => (r as PromiseFulfilledResult<CachedFile>).value);
      // Downloads run in parallel: wall time, split between downloading and hashing in the ratio they took.
      const wall = performance.now() - t0;
      const dl = cached.reduce((s, f) => s + f.downloadMs, 0);
      const vf = cached.reduce((s, f) => s + f.verifyMs, 0);
      timings.downloadMs = dl + vf > 0 ? (wall * dl) / (dl + vf) : 0;
      timings.verifyMs = dl + vf > 0 ? (wall * vf) / (dl + vf) : 0;
      cached.forEach((f, i) => {
        if (f.downloaded) {
          timings.downloaded++;
          timings.bytes += record.files[names[i]].size;
        }
      });
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await Promise.all(
        names.map((name, i) =>
          place(cached[i].path, join(dir, name)).catch(async (error: NodeJS.ErrnoException) => {
            // Pruned from the cache between download and link (another snapshot was opened meanwhile): once more.
            if (error.code !== 'ENOENT') throw error;
            const again = await this.cache.fetch(this.bucket, `${FILES}${record.files[name].sha256}`, record.files[name]);
            await place(again.path, join(dir, name));
          }),
        ),
      );
      await writeFile(join(into, CURRENT), `${record.version}\n`);
      return { indexDir: into, timings };
    } catch (error) {
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * Publishes the local snapshot folder `dir` (written by the index job: its checksums.json lists
   * its files) as the successor of `base` (the CURRENT it was built on, or null when there was
   * none). Resolves `conflict` when another publisher moved CURRENT first: CURRENT then names the
   * other snapshot, and this one is not published.
   *
   * @example
   * const outcome = await snapshots.publish('/tmp/stage/index/v000008-…', base); // { published: true, record }
   */
  async publish(dir: string, base: CurrentObject | null): Promise<{ published: true; record: SnapshotRecord } | { published: false; current: CurrentObject | null }> {
    const version = basename(dir);
    const checksums = await readChecksums(dir);
    const checksumsBytes = await readFile(join(dir, CHECKSUMS_FILE));
    const files: SnapshotRecord['files'] = { ...checksums.files, [CHECKSUMS_FILE]: { sha256: sha256Bytes(checksumsBytes), size: checksumsBytes.byteLength } };
    const id = snapshotId(version, files);
    const record: SnapshotRecord = { format: 1, version, id, parent: base ? { version: base.record.version, id: base.record.id } : null, files, writtenAt: new Date().toISOString() };
    const body = `${JSON.stringify(record, null, 2)}\n`;

    await this.upload(dir, files, { skipPresent: true });
    await this.bucket.put(recordName(record), body);
    // A prune may have removed a file uploaded long ago before the record protected it: check, and upload again.
    for (let attempt = 0; ; attempt++) {
      const missing = await this.missing(files);
      if (missing.length === 0) break;
      if (attempt >= 2) throw new IndexError('UNAVAILABLE', `object storage: ${missing.length} uploaded snapshot files keep disappearing from ${this.bucket.uri(FILES)}`);
      await this.upload(dir, Object.fromEntries(missing.map((name) => [name, files[name]])), { skipPresent: false });
    }

    const etag = await this.bucket.put(CURRENT, body, base ? { ifMatch: base.etag } : { ifNoneMatch: '*' });
    this.last = null;
    if (etag !== null) return { published: true, record };
    // The condition failed: another publisher won, unless our own write landed and only its answer was lost.
    const now = await this.current();
    if (now?.record.id === id) return { published: true, record };
    return { published: false, current: now };
  }

  private async upload(dir: string, files: SnapshotRecord['files'], options: { skipPresent: boolean }): Promise<void> {
    for (const [name, ref] of Object.entries(files)) {
      const key = `${FILES}${ref.sha256}`;
      if (options.skipPresent && (await this.bucket.head(key))?.size === ref.size) continue;
      const bytes = await readFile(join(dir, name));
      if (bytes.byteLength !== ref.size || sha256Bytes(bytes) !== ref.sha256) throw new IndexError('CORRUPT_SNAPSHOT', `${join(dir, name)} changed while it was being published`);
      await this.bucket.put(key, bytes);
      // This instance opens the snapshot next (if it serves): it has the bytes, so it never downloads them.
      await this.cache.put(ref.sha256, bytes);
    }
  }

  private async missing(files: SnapshotRecord['files']): Promise<string[]> {
    const names = Object.keys(files);
    const heads = await Promise.all(names.map((name) => this.bucket.head(`${FILES}${files[name].sha256}`)));
    return names.filter((_, i) => heads[i]?.size !== files[names[i]].size);
  }

  /**
   * Deletes the files and records no reader or publisher can still need (see the module comment).
   * Resolves what was deleted.
   *
   * @example
   * await snapshots.prune({ keep: 3 }); // { files: ['files/3f1c…'], records: ['snapshots/v000004-….json'] }
   */
  async prune(options: PruneOptions = {}): Promise<{ files: string[]; records: string[] }> {
    const keep = options.keep ?? 3;
    const grace = options.graceMs ?? DEFAULT_GRACE_MS;
    const now = (options.now ?? new Date()).getTime();
    const current = await this.current();
    if (!current) return { files: [], records: [] };

    const listed = await this.bucket.list(RECORDS);
    const records = new Map<string, { record: SnapshotRecord; name: string; at: number }>();
    const unreadable: { name: string; at: number }[] = [];
    for (const o of listed) {
      const got = await this.bucket.get(o.key);
      if (got === null || got === 'not-modified') continue;
      try {
        const record = parseRecord(got.body, this.bucket.uri(o.key));
        records.set(record.id, { record, name: o.key, at: o.lastModified.getTime() });
      } catch {
        unreadable.push({ name: o.key, at: o.lastModified.getTime() });
      }
    }
    // When each snapshot stopped being CURRENT: no later than its first successor's record was written
    // (a successor writes its record just before it moves CURRENT).
    const retiredAt = new Map<string, number>();
    for (const { record, at } of records.values()) {
      if (record.parent) retiredAt.set(record.parent.id, Math.min(retiredAt.get(record.parent.id) ?? Infinity, at));
    }
    // CURRENT's line: CURRENT, its parent, its parent's parent, … as far as records go.
    const line: SnapshotRecord[] = [current.record];
    for (let p = current.record.parent; p && records.has(p.id) && line.length <= records.size; p = records.get(p.id)!.record.parent) line.push(records.get(p.id)!.record);
    const onLine = new Set(line.map((r) => r.id));
    const kept = new Set(line.slice(0, keep + 1).map((r) => r.id));
    for (const { record, at } of records.values()) {
      const retired = retiredAt.get(record.id);
      const stillNeeded = onLine.has(record.id)
        ? retired === undefined || now - retired < grace // retired lately: a reader may be downloading it
        : now - at < grace || versionSequence(record.version) > versionSequence(current.record.version); // a publisher may be about to name it
      if (stillNeeded) kept.add(record.id);
    }
    const protectedFiles = new Set<string>();
    for (const id of kept) for (const f of Object.values((records.get(id)?.record ?? current.record).files)) protectedFiles.add(f.sha256);
    for (const f of Object.values(current.record.files)) protectedFiles.add(f.sha256);

    const deletedFiles: string[] = [];
    for (const o of await this.bucket.list(FILES)) {
      if (protectedFiles.has(o.key.slice(FILES.length)) || now - o.lastModified.getTime() < grace) continue;
      await this.bucket.delete(o.key);
      deletedFiles.push(o.key);
    }
    const deletedRecords: string[] = [];
    for (const { record, name } of records.values()) {
      if (kept.has(record.id) || record.id === current.record.id) continue;
      await this.bucket.delete(name);
      deletedRecords.push(name);
    }
    for (const { name, at } of unreadable) {
      if (now - at < grace) continue;
      await this.bucket.delete(name);
      deletedRecords.push(name);
    }
    return { files: deletedFiles, records: deletedRecords };
  }
}
