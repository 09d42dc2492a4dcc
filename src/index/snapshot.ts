/**
 * The on-disk layout of index/ and the moves that keep it consistent:
 *
 *   index/CURRENT                 the live version name (one line), switched atomically
 *   index/<version>/              immutable snapshots: hnsw.bin, vectors.f32, manifest.json, checksums.json
 *   index/.tmp-<version>-<pid>/   a snapshot being written (garbage if its run died)
 *   index/.lock                   held by the running index job (lock.ts)
 *
 * A snapshot is written completely in a temp folder, every file fsynced, checksums.json last,
 * the folder fsynced, renamed to its version name, index/ fsynced; only then is CURRENT
 * switched. A crash at any point leaves CURRENT naming a complete snapshot. Nothing ever
 * writes into a folder with a version name.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { CHECKSUMS_FILE, computeChecksums } from './checksums.js';
import { fsyncPath } from './durable.js';
import { IndexError } from './errors.js';
import { pidAlive } from './lock.js';
import { isVersionName, nextVersionName, sortVersions } from './version.js';

export const CURRENT_FILE = 'CURRENT';
export const LOCK_FILE = '.lock';
const TEMP_PREFIX = '.tmp-';
const TRASH_PREFIX = '.trash-';

/**
 * The version CURRENT names, or null when nothing has been built yet.
 *
 * @example
 * await readCurrent('index') // 'v000007-20261128T180102Z'
 */
export async function readCurrent(indexDir: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(join(indexDir, CURRENT_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const version = text.trim();
  if (!isVersionName(version)) throw new IndexError('NO_SNAPSHOT', `${join(indexDir, CURRENT_FILE)} does not name a snapshot version: ${JSON.stringify(version.slice(0, 80))}`);
  return version;
}

/** Snapshot versions present in index/, oldest first. */
export async function listVersions(indexDir: string): Promise<string[]> {
  try {
    const entries = await readdir(indexDir, { withFileTypes: true });
    return sortVersions(entries.filter((e) => e.isDirectory()).map((e) => e.name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The name for the next snapshot (after every existing one and CURRENT's). */
export async function allocateVersion(indexDir: string, now = new Date()): Promise<string> {
  const existing = await listVersions(indexDir);
  const current = await readCurrent(indexDir).catch(() => null);
  return nextVersionName(current ? [...existing, current] : existing, now);
}

export interface SnapshotFiles {
  /** Writes the snapshot's files into `dir` and returns their names (checksums.json is added after). */
  write(dir: string): Promise<string[]>;
}

/**
 * Writes a complete snapshot under index/<version>/ (temp folder, fsync, rename, fsync) and
 * returns its path. CURRENT is not touched.
 *
 * @example
 * const dir = await writeSnapshot('index', version, { write: async (tmp) => { …; return ['hnsw.bin', 'vectors.f32', 'manifest.json']; } });
 */
export async function writeSnapshot(indexDir: string, version: string, files: SnapshotFiles): Promise<string> {
  if (!isVersionName(version)) throw new RangeError(`bad version name ${version}`);
  await mkdir(indexDir, { recursive: true });
  const finalDir = join(indexDir, version);
  if (await stat(finalDir).then(() => true, () => false)) throw new IndexError('BAD_ARGUMENT', `snapshot ${finalDir} already exists`);
  const tempDir = join(indexDir, `${TEMP_PREFIX}${version}-${process.pid}`);
  await rm(tempDir, { recursive: true, force: true });
  await mkdir(tempDir);
  try {
    const names = await files.write(tempDir);
    for (const name of names) await fsyncPath(join(tempDir, name));
    const checksums = await computeChecksums(tempDir, names);
    await writeFile(join(tempDir, CHECKSUMS_FILE), `${JSON.stringify(checksums, null, 2)}\n`);
    await fsyncPath(join(tempDir, CHECKSUMS_FILE));
    await fsyncPath(tempDir);
    await rename(tempDir, finalDir);
    await fsyncPath(indexDir);
    return finalDir;
  } catch (error) {
    await rm(tempDir, { recursive: true, force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * Points CURRENT at `version` atomically (temp file, fsync, rename, fsync of index/).
 *
 * @example
 * await switchCurrent('index', 'v000008-20261129T020000Z');
 */
export async function switchCurrent(indexDir: string, version: string): Promise<void> {
  if (!isVersionName(version)) throw new RangeError(`bad version name ${version}`);
  if (!(await stat(join(indexDir, version)).then((s) => s.isDirectory(), () => false))) {
    throw new IndexError('NO_SNAPSHOT', `cannot switch CURRENT to ${version}: no such snapshot in ${indexDir}`);
  }
  await writeFileAtomic(join(indexDir, CURRENT_FILE), `${version}\n`);
}

export interface PruneResult {
  removed: string[];
  /** Temp and trash folders of dead runs that were cleaned up. */
  cleaned: string[];
}

/**
 * Keeps the newest `keep` snapshots (and always the current one), deletes older ones, and
 * removes temp folders and files left by killed runs. Call only while holding the lock (any temp folder
 * not made by this process is then garbage). A snapshot is first renamed to a trash name so a
 * half-deleted folder never carries a version name.
 *
 * @example
 * await pruneSnapshots('index', 3); // { removed: ['v000001-…'], cleaned: ['.tmp-v000005-…-4711'] }
 */
export async function pruneSnapshots(indexDir: string, keep: number): Promise<PruneResult> {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`keep must be a positive integer, got ${keep}`);
  const current = await readCurrent(indexDir);
  const versions = await listVersions(indexDir);
  const keepSet = new Set(versions.slice(-keep));
  if (current) keepSet.add(current);
  const removed: string[] = [];
  for (const version of versions) {
    if (keepSet.has(version)) continue;
    const trash = join(indexDir, `${TRASH_PREFIX}${version}-${process.pid}`);
    await rename(join(indexDir, version), trash);
    await rm(trash, { recursive: true, force: true });
    removed.push(version);
  }
  const cleaned: string[] = [];
  for (const entry of await readdir(indexDir, { withFileTypes: true })) {
    const ours = entry.name.endsWith(`-${process.pid}`);
    const deadFolder = entry.isDirectory() && (entry.name.startsWith(TEMP_PREFIX) || entry.name.startsWith(TRASH_PREFIX)) && !ours;
    // writeFileAtomic's temp file for CURRENT, left behind if a run was killed mid-switch.
    const deadCurrentTemp = entry.isFile() && entry.name.startsWith(`.${CURRENT_FILE}.`) && entry.name.endsWith('.tmp');
    // lock.ts's temp files (`.lock.new-<pid>-…`, `.lock.stale-<pid>-…`) of processes that are gone.
    const lockTemp = /^\.lock\.(?:new|stale)-(\d+)-/.exec(entry.name);
    const deadLockTemp = entry.isFile() && lockTemp !== null && !pidAlive(Number(lockTemp[1]));
    if (deadFolder || deadCurrentTemp || deadLockTemp) {
      await rm(join(indexDir, entry.name), { recursive: true, force: true });
      cleaned.push(entry.name);
    }
  }
  if (removed.length || cleaned.length) await fsyncPath(indexDir);
  return { removed, cleaned };
}
