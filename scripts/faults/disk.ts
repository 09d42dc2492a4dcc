/**
 * A full disk during the re-index: the index folder on a small tmpfs (needs root: mount -t tmpfs),
 * filled so a new snapshot cannot fit. Expected: a clear error, CURRENT unchanged and verifying, the
 * server still serving, and the next run after freeing space succeeds.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bearer, createFixture, READ_KEY, syntheticPng } from '../../test/fixtures/api.js';
import { readCurrent } from '../../src/index/snapshot.js';
import { serveFixture, type FixtureServer } from '../server/fixture.js';
import { reindexArgs, sleep, snapshotEntries } from './fixture.js';
import { reindex } from './reindex-process.js';

export type DiskResult =
  | { skipped: string }
  | {
      skipped: null;
      tmpfsKiB: number;
      snapshotKiB: number;
      freeKiBBeforeRun: number;
      exitCode: number;
      error: string;
      currentBefore: string;
      currentAfter: string;
      oldVerified: boolean;
      leftovers: string[];
      /** The server over that index kept serving the old version. */
      serving: { status: number; version: string };
      recovered: { exitCode: number; version: string };
    };

const duKiB = (dir: string): number => Number(execFileSync('du', ['-sk', dir]).toString().split('\t')[0]);
const freeKiB = (dir: string): number => Number(execFileSync('df', ['-k', '--output=avail', dir]).toString().trim().split('\n').pop());

/**
 * Mounts a tmpfs of `sizeMiB` as index/ (root only; otherwise returns `{ skipped: reason }`),
 * builds the index there, fills the disk to leave less than a snapshot, adds images and runs
 * the re-index CLI. Unmounts in every case.
 *
 * @example
 * const r = await fullDisk({ sizeMiB: 2 }); if (!r.skipped) r.currentAfter === r.currentBefore // true
 */
export async function fullDisk(options: { sizeMiB: number }): Promise<DiskResult> {
  const fx = await createFixture({ identities: 30, perIdentity: 5, index: false });
  const mountpoint = fx.indexDir;
  await mkdir(mountpoint, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${options.sizeMiB}m`, 'tmpfs', mountpoint], { stdio: 'pipe' });
  } catch (error) {
    await fx.cleanup();
    return { skipped: `cannot mount a tmpfs (needs root or CAP_SYS_ADMIN): ${((error as { stderr?: Buffer }).stderr?.toString() || (error as Error).message).trim()}` };
  }
  let server: FixtureServer | null = null;
  try {
    const built = await reindex(reindexArgs(fx));
    if (built.code !== 0) throw new Error(`initial build on tmpfs failed: ${built.stderr}`);
    const currentBefore = (await readCurrent(fx.indexDir)) ?? '';
    const snapshotKiB = duKiB(join(fx.indexDir, currentBefore));
    server = await serveFixture(fx, { RELOAD_POLL_MS: '100' }, { keepFixture: true });
    // Fill the disk, then free a quarter of a snapshot: room for the lock and small files, not for a snapshot.
    const filler = join(fx.indexDir, 'filler.bin');
    await writeFile(filler, Buffer.alloc(Math.max(0, freeKiB(fx.indexDir) - Math.ceil(snapshotKiB / 4)) * 1024));
    const freeBefore = freeKiB(fx.indexDir);
    // Enough change that the new snapshot is at least as large as the old one.
    for (let i = 0; i < 20; i++) await writeFile(join(fx.galleryDir, `id${String(i % 30).padStart(3, '0')}`, `more-${i}.png`), await syntheticPng(8_000_000 + i));
    const run = await reindex(reindexArgs(fx));
    const currentAfter = (await readCurrent(fx.indexDir)) ?? '';
    let oldVerified = false;
    try {
      oldVerified = (await snapshotEntries(fx)).version === currentBefore;
    } catch {
      oldVerified = false;
    }
    const leftovers = (await readdir(fx.indexDir)).filter((f) => f.startsWith('.') || (f !== 'CURRENT' && f !== 'filler.bin' && f !== currentBefore));
    const res = await fetch(`${server.url}/v1/search`, { method: 'POST', body: await syntheticPng(1001), headers: bearer(READ_KEY) });
    const serving = { status: res.status, version: res.status === 200 ? ((await res.json()) as { index: { version: string } }).index.version : '' };
    // Free the space: the next run completes.
    await rm(filler);
    const again = await reindex(reindexArgs(fx));
    return {
      skipped: null,
      tmpfsKiB: options.sizeMiB * 1024,
      snapshotKiB,
      freeKiBBeforeRun: freeBefore,
      exitCode: run.code ?? -1,
      error: run.stderr.trim().split('\n').filter((l) => l.startsWith('error'))[0] ?? run.stderr.trim(),
      currentBefore,
      currentAfter,
      oldVerified,
      leftovers,
      serving,
      recovered: { exitCode: again.code ?? -1, version: (await readCurrent(fx.indexDir)) ?? '' },
    };
  } finally {
    await server?.close();
    for (let i = 0; i < 20; i++) {
      try {
        execFileSync('umount', [mountpoint], { stdio: 'pipe' });
        break;
      } catch {
        await sleep(100); // busy: a watcher or a child still closing
      }
    }
    await fx.cleanup();
  }
}

