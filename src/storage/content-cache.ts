/**
 * Files from object storage kept in the instance's scratch space (/tmp on AWS Lambda) under
 * their sha256: a file is downloaded at most once per instance, however many snapshots,
 * enrolments or re-index runs name it. A file is only ever stored under its name after its bytes
 * were hashed and matched, so a name in the cache is a verified file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IndexError } from '../index/errors.js';
import type { ObjectBucket } from './bucket.js';

export interface CachedFile {
  path: string;
  /** False when the file was already in the cache. */
  downloaded: boolean;
  /** Time spent downloading and hashing (0 for a cache hit). */
  downloadMs: number;
  verifyMs: number;
}

const SHA256 = /^[0-9a-f]{64}$/;

/** sha256 (hex) of a file, streamed. */
async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * @example
 * const cache = new ContentCache('/tmp/twinsearch/cache');
 * const { path } = await cache.fetch(bucket, 'files/3f1c…', { sha256: '3f1c…', size: 38_600_000 });
 */
export class ContentCache {
  /** Downloads in flight, so two callers wanting the same file share one download. */
  private readonly inflight = new Map<string, Promise<CachedFile>>();

  constructor(readonly dir: string) {}

  /** Where the file with this sha256 is (or will be) kept. */
  path(sha256: string): string {
    if (!SHA256.test(sha256)) throw new RangeError(`not a sha256: ${sha256}`);
    return join(this.dir, sha256);
  }

  /** True when the file is in the cache with this size. */
  async has(sha256: string, size?: number): Promise<boolean> {
    const s = await stat(this.path(sha256)).catch(() => undefined);
    return s !== undefined && (size === undefined || s.size === size);
  }

  /**
   * The local path of the object `key` whose content is `expected`: from the cache, or downloaded
   * into a temp file, hashed, and renamed into place only if size and sha256 match. Throws
   * `CORRUPT_SNAPSHOT` on a mismatch (nothing is cached), `NO_SNAPSHOT` if the object is missing.
   */
  fetch(bucket: ObjectBucket, key: string, expected: { sha256: string; size: number }): Promise<CachedFile> {
    const running = this.inflight.get(expected.sha256);
    if (running) return running.then((f) => ({ ...f, downloaded: false, downloadMs: 0, verifyMs: 0 }));
    const job = this.fetchNow(bucket, key, expected).finally(() => this.inflight.delete(expected.sha256));
    this.inflight.set(expected.sha256, job);
    return job;
  }

  private async fetchNow(bucket: ObjectBucket, key: string, expected: { sha256: string; size: number }): Promise<CachedFile> {
    const path = this.path(expected.sha256);
    if (await this.has(expected.sha256, expected.size)) return { path, downloaded: false, downloadMs: 0, verifyMs: 0 };
    await mkdir(this.dir, { recursive: true });
    const temp = join(this.dir, `.${expected.sha256}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
    try {
      const t0 = performance.now();
      const size = await bucket.download(key, temp);
      const t1 = performance.now();
      if (size === null) throw new IndexError('NO_SNAPSHOT', `${bucket.uri(key)} does not exist`);
      if (size !== expected.size) throw new IndexError('CORRUPT_SNAPSHOT', `${bucket.uri(key)} has ${size} bytes, expected ${expected.size}`);
      const actual = await hashFile(temp);
      const t2 = performance.now();
      if (actual !== expected.sha256) throw new IndexError('CORRUPT_SNAPSHOT', `${bucket.uri(key)} fails its sha256 check (expected ${expected.sha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`);
      await rename(temp, path);
      return { path, downloaded: true, downloadMs: t1 - t0, verifyMs: t2 - t1 };
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** Keeps bytes this instance already has (an enrolment it took) so it never downloads them back. */
  async put(sha256: string, bytes: Uint8Array): Promise<void> {
    const path = this.path(sha256);
    if (await this.has(sha256, bytes.byteLength)) return;
    if (createHash('sha256').update(bytes).digest('hex') !== sha256) throw new RangeError('ContentCache.put: the bytes do not hash to the name');
    await mkdir(this.dir, { recursive: true });
    const temp = join(this.dir, `.${sha256}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
    await writeFile(temp, bytes);
    await rename(temp, path);
  }

  /**
   * Downloads an object whose hash is not known yet (a gallery image seen for the first time),
   * hashes it and keeps it under that hash. Null if the object is gone.
   *
   * @example
   * const { sha256, size } = await cache.adopt(gallery, 'alice/1.jpg');
   */
  async adopt(bucket: ObjectBucket, key: string): Promise<{ sha256: string; size: number; path: string } | null> {
    await mkdir(this.dir, { recursive: true });
    const temp = join(this.dir, `.adopt.${process.pid}.${randomBytes(6).toString('hex')}.part`);
    try {
      const size = await bucket.download(key, temp);
      if (size === null) return null;
      const sha256 = await hashFile(temp);
      const path = this.path(sha256);
      await rename(temp, path);
      return { sha256, size, path };
    } finally {
      await rm(temp, { force: true });
    }
  }

  /**
   * Deletes cached files whose sha256 is not in `keep` (scratch space is small: keep what the
   * served and the previous snapshot use). Resolves the names removed.
   */
  async retain(keep: ReadonlySet<string>): Promise<string[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const removed = names.filter((n) => SHA256.test(n) && !keep.has(n) && !this.inflight.has(n));
    await Promise.all(removed.map((n) => rm(join(this.dir, n), { force: true })));
    return removed;
  }
}
