/**
 * index/.lock: keeps two index runs from overlapping.
 *
 * The lock file holds `{ pid, hostname, startedAt, procStart, token, command }`. It is created
 * atomically with its content (written to a temp file, then hard-linked to the lock name, which
 * fails if the name exists), so no reader ever sees an empty lock.
 *
 * A lock is stale when it was taken on this host and its pid is dead, or the pid now belongs to
 * a newer process (Linux: the process start time in /proc differs). A stale lock is taken over:
 * renamed aside, re-read to make sure it is still the stale one (another run may have taken it
 * over first), then deleted. A lock from another host is never judged stale.
 *
 * Why not a time-based library lock (proper-lockfile): it refreshes the lock's mtime on a timer,
 * and hnswlib builds block the event loop for minutes, so a live build would look stale.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { IndexError } from './errors.js';

export interface LockInfo {
  pid: number;
  hostname: string;
  startedAt: string;
  /** Start time of the process in clock ticks since boot (Linux), to detect pid reuse; null elsewhere. */
  procStart: number | null;
  /** Random value identifying this acquisition (release only deletes its own lock). */
  token: string;
  command: string;
}

export interface Lock {
  readonly path: string;
  readonly info: LockInfo;
  /** Deletes the lock if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** Start time of a process in clock ticks since boot, from /proc/<pid>/stat (Linux); null if unknown. */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may contain spaces and parentheses: split after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22 overall
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

/** True if a process with this pid exists (EPERM means it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether a lock's holder is gone (only decidable for locks taken on this host). */
export function isStale(info: LockInfo): boolean {
  if (info.hostname !== hostname()) return false;
  if (info.pid === process.pid) return false;
  if (!pidAlive(info.pid)) return true;
  if (info.procStart === null) return false;
  const now = processStartTicks(info.pid);
  return now !== null && now !== info.procStart;
}

function parseLock(text: string): LockInfo | null {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.hostname !== 'string' || typeof v.token !== 'string') return null;
    return { pid: v.pid, hostname: v.hostname, startedAt: String(v.startedAt), procStart: typeof v.procStart === 'number' ? v.procStart : null, token: v.token, command: String(v.command ?? '') };
  } catch {
    return null;
  }
}

async function readLock(path: string): Promise<LockInfo | null | 'missing'> {
  try {
    return parseLock(await readFile(path, 'utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
}

/** Creates `path` with `content` only if it does not exist (temp file + hard link). */
async function createExclusive(path: string, content: string): Promise<boolean> {
  const temp = `${path}.new-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(temp, 'wx');
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}

/**
 * Moves a stale lock out of the way. Returns false if the lock changed since we judged it
 * stale (someone else took it over), in which case it is put back.
 */
async function takeOver(path: string, stale: LockInfo): Promise<boolean> {
  const aside = `${path}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return true; // already gone
    throw error;
  }
  const moved = parseLock(await readFile(aside, 'utf8').catch(() => ''));
  if (moved && moved.token !== stale.token) {
    // We moved a fresh lock taken by another run: restore it unless the name is taken again.
    await link(aside, path).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return false;
  }
  await unlink(aside).catch(() => undefined);
  return true;
}

function describe(info: LockInfo): string {
  return `pid ${info.pid} on ${info.hostname} since ${info.startedAt}${info.command ? ` (${info.command})` : ''}`;
}

export interface AcquireOptions {
  /** What the holder is doing, shown to whoever finds the lock taken. */
  command?: string;
  /** Called when a stale lock is taken over. */
  onTakeover?: (stale: LockInfo) => void;
}

/**
 * Takes the lock at `path` or throws `IndexError('LOCKED')` naming the holder.
 *
 * @example
 * const lock = await acquireLock('index/.lock', { command: 'reindex' });
 * try { await work(); } finally { await lock.release(); }
 */
export async function acquireLock(path: string, options: AcquireOptions = {}): Promise<Lock> {
  const info: LockInfo = {
    pid: process.pid,
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    procStart: processStartTicks(process.pid),
    token: randomBytes(8).toString('hex'),
    command: options.command ?? process.argv.slice(1).join(' '),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(path, `${JSON.stringify(info)}\n`)) return makeLock(path, info);
    const holder = await readLock(path);
    if (holder === 'missing') continue; // released between our attempt and the read
    if (holder === null) {
      // Not written by acquireLock (content is always complete): refuse rather than guess.
      throw new IndexError('LOCKED', `${path} exists but is not a lock file twinsearch wrote; remove it if no index run is active`);
    }
    if (!isStale(holder)) throw new IndexError('LOCKED', `another index run holds ${path}: ${describe(holder)}`);
    if (await takeOver(path, holder)) options.onTakeover?.(holder);
  }
  throw new IndexError('LOCKED', `could not take ${path}: it keeps changing hands`);
}

function makeLock(path: string, info: LockInfo): Lock {
  let released = false;
  return {
    path,
    info,
    async release() {
      if (released) return;
      released = true;
      const holder = await readLock(path);
      if (holder !== 'missing' && holder !== null && holder.token === info.token) await unlink(path).catch(() => undefined);
    },
  };
}
