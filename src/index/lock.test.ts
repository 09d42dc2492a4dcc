import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isIndexError } from './errors.js';
import { acquireLock, processStartTicks, type LockInfo } from './lock.js';

async function lockPath(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'lock-')), '.lock');
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid as number;
}

function lockOf(pid: number, extra: Partial<LockInfo> = {}): string {
  return JSON.stringify({ pid, hostname: hostname(), startedAt: '2026-11-28T00:00:00Z', procStart: null, token: 'stale-token', command: 'reindex', ...extra });
}

describe('index lock', () => {
  it('holds against a second run until released', async () => {
    const path = await lockPath();
    const lock = await acquireLock(path, { command: 'first' });
    const err = await acquireLock(path).catch((e: unknown) => e);
    expect(isIndexError(err, 'LOCKED')).toBe(true);
    expect((err as Error).message).toMatch(new RegExp(`pid ${process.pid}.*first`));
    await lock.release();
    const again = await acquireLock(path);
    await again.release();
  });

  it('lets exactly one of two simultaneous runs win', async () => {
    const path = await lockPath();
    const results = await Promise.allSettled([acquireLock(path), acquireLock(path), acquireLock(path)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'fulfilled') await r.value.release();
  });

  it('takes over a stale lock left by a dead process', async () => {
    const path = await lockPath();
    const pid = await deadPid();
    await writeFile(path, lockOf(pid));
    const takenOver: number[] = [];
    const lock = await acquireLock(path, { onTakeover: (stale) => takenOver.push(stale.pid) });
    expect(takenOver).toEqual([pid]);
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('treats a live pid with another start time as reused, hence stale', async () => {
    const path = await lockPath();
    const ticks = processStartTicks(process.ppid);
    if (ticks === null) return; // no /proc: nothing to compare
    await writeFile(path, lockOf(process.ppid, { procStart: ticks + 12345 }));
    const lock = await acquireLock(path);
    await lock.release();
  });

  it('respects a lock held by a live process or another host', async () => {
    const path = await lockPath();
    await writeFile(path, lockOf(process.ppid, { procStart: processStartTicks(process.ppid) }));
    await expect(acquireLock(path)).rejects.toThrow(/another index run holds/);
    await writeFile(path, lockOf(await deadPid(), { hostname: 'some-other-host' }));
    await expect(acquireLock(path)).rejects.toThrow(/some-other-host/);
    await writeFile(path, 'not json');
    await expect(acquireLock(path)).rejects.toThrow(/not a lock file/);
  });

  it('release leaves a lock it no longer owns alone', async () => {
    const path = await lockPath();
    const lock = await acquireLock(path);
    await writeFile(path, lockOf(process.ppid)); // someone replaced it (e.g. after a manual removal)
    await lock.release();
    expect(JSON.parse(await readFile(path, 'utf8')).pid).toBe(process.ppid);
  });
});
