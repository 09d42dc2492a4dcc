/**
 * sha256 of gallery files, cached by (size, mtime, ctime, inode) so a nightly re-index of an
 * unchanged 70,000-image folder stats files instead of reading them all.
 *
 * ctime cannot be set by users (unlike mtime with `touch -d`), and any write changes it, so
 * a rewritten file misses the cache even if its size and mtime were restored.
 */
import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic.js';
import { sha256Bytes } from './checksums.js';

export interface FileHash {
  sha256: string;
  size: number;
}

type CacheRow = [size: number, mtimeMs: number, ctimeMs: number, ino: number, sha256: string];

interface CacheFile {
  format: 1;
  files: Record<string, CacheRow>;
}

export interface HashStats {
  /** Files read and hashed. */
  hashed: number;
  /** Files whose hash came from the cache. */
  cached: number;
}

export interface HashFilesOptions {
  /** Path of the cache file; without one every file is read. */
  cachePath?: string;
  /** Files read at once. Default 8. */
  concurrency?: number;
  /** Keep cached rows of files not in this call (a partial listing). Default false: the cache is pruned to these files. */
  keepOtherEntries?: boolean;
  /** Called when the cache cannot be read or written (the hashes are still right). */
  onWarning?: (message: string) => void;
}

/** ENOENT → undefined (the file was removed meanwhile); anything else is rethrown. */
function vanished(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}

async function loadCache(path: string, onWarning?: (m: string) => void): Promise<Map<string, CacheRow>> {
  try {
    const json = JSON.parse(await readFile(path, 'utf8')) as Partial<CacheFile>;
    if (json.format !== 1 || typeof json.files !== 'object' || json.files === null) return new Map();
    return new Map(Object.entries(json.files).filter(([, row]) => Array.isArray(row) && row.length === 5 && typeof row[4] === 'string'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') onWarning?.(`hash cache ${path} unreadable, rehashing: ${(error as Error).message}`);
    return new Map();
  }
}

/**
 * Hashes files (`key` names a file in the cache, `path` is where to read it) and returns
 * `key → { sha256, size }`. The cache is rewritten with exactly the keys given (unless
 * `keepOtherEntries`), so entries of deleted files drop out.
 *
 * @example
 * const { hashes } = await hashFiles([{ key: 'alice/1.png', path: '/g/alice/1.png' }], { cachePath: '/g/.twinsearch/hash-cache.json' });
 */
export async function hashFiles(
  files: readonly { key: string; path: string }[],
  options: HashFilesOptions = {},
): Promise<{ hashes: Map<string, FileHash>; stats: HashStats }> {
  const cache = options.cachePath ? await loadCache(options.cachePath, options.onWarning) : new Map<string, CacheRow>();
  const fresh: Record<string, CacheRow> = options.keepOtherEntries ? Object.fromEntries(cache) : {};
  const hashes = new Map<string, FileHash>();
  const stats: HashStats = { hashed: 0, cached: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const { key, path } = files[next++];
      const s = await stat(path).catch(vanished);
      if (!s) {
        options.onWarning?.(`${path} disappeared while the gallery was being read; left out`);
        continue;
      }
      const old = cache.get(key);
      let sha256: string;
      if (old && old[0] === s.size && old[1] === s.mtimeMs && old[2] === s.ctimeMs && old[3] === s.ino) {
        sha256 = old[4];
        stats.cached++;
      } else {
        const bytes = await readFile(path).catch(vanished);
        if (!bytes) {
          options.onWarning?.(`${path} disappeared while the gallery was being read; left out`);
          continue;
        }
        sha256 = sha256Bytes(bytes);
        stats.hashed++;
        // The file may change between stat and read; record the size actually hashed.
        if (bytes.byteLength !== s.size) {
          hashes.set(key, { sha256, size: bytes.byteLength });
          continue;
        }
      }
      fresh[key] = [s.size, s.mtimeMs, s.ctimeMs, s.ino, sha256];
      hashes.set(key, { sha256, size: s.size });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 8, files.length)) }, worker));
  if (options.cachePath && (stats.hashed > 0 || cache.size !== Object.keys(fresh).length)) {
    // Rewritten only when something changed: an unchanged nightly run writes nothing.
    const body: CacheFile = { format: 1, files: fresh };
    await writeFileAtomic(options.cachePath, JSON.stringify(body)).catch((error: Error) => {
      options.onWarning?.(`hash cache ${options.cachePath} not saved: ${error.message}`);
    });
  }
  return { hashes, stats };
}
