/**
 * Fault injection against twinsearch: what happens when the re-index is killed, a snapshot is
 * damaged on disk, the disk fills up, snapshots swap under load, and the server is stopped
 * under load. Each scenario returns numbers; `main` runs them all at full size and writes
 * bench/results/faults.{json,md}. test/faults.test.ts runs small versions in `npm test`.
 *
 *   npx tsx scripts/faults.ts [--kills 20] [--images 1000] [--enrol-kills 20] [--connections 64] [--seconds 20] [--seed 1] [--only kill,enrol,flip,disk,swap,sigterm]
 *
 * - kill:    SIGKILL `npm run reindex` at >= 20 random moments (scripts/index-crash.ts): CURRENT verifies after every kill.
 * - enrol:   enrolments over HTTP while the re-index is started and SIGKILLed again and again: every acknowledged (201) enrolment is
 *            in the listing, in the final snapshot and in a restarted server.
 * - flip:    one flipped byte in the snapshot CURRENT names: the reload refuses it, /readyz says degraded, the old one keeps serving.
 * - disk:    the index folder on a 2 MiB tmpfs (needs root: mount -t tmpfs), filled so a re-index cannot fit: a clear error,
 *            CURRENT unchanged and verifying, the server still serving, and the next run after freeing space succeeds.
 * - swap:    two re-indexes swapped in while `connections` clients search: zero failed requests.
 * - sigterm: SIGTERM to `npm run dev` while `connections` keep-alive clients search: requests in flight complete, the process
 *            exits 0. `sigterm-fresh-connections` repeats it with a new connection per request (requests still in the
 *            listener's accept queue at the signal must complete too).
 */
import { spawn, execFileSync } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng } from '../src/data/rng.js';
import { openSnapshot } from '../src/index/live-snapshot.js';
import { runIndex } from '../src/index/reindex.js';
import { readCurrent, switchCurrent } from '../src/index/snapshot.js';
import { GalleryStore } from '../src/index/store.js';
import { openEmbedder } from '../src/embedding/index.js';
import { ADMIN_KEY, bearer, createFixture, READ_KEY, syntheticPng, type Fixture } from '../test/fixtures/api.js';
import { writeResults } from './bench-common.js';
import { reindex, runCrashTest, type CrashResult } from './index-crash.js';
import { serveFixture, writeFixtureConfig, type HostileServer } from './hostile-server.js';

const repo = resolve(import.meta.dirname, '..');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
type Log = (line: string) => void;

/** The re-index CLI's arguments for a fixture. */
const reindexArgs = (fx: Fixture): string[] => ['--model', fx.modelDir, '--gallery', fx.galleryDir, '--out', fx.indexDir, '--workers', '0', '--backend', 'wasm', '--no-progress'];

/** The manifest's (identity, sha256) pairs of the snapshot CURRENT names, verified. */
async function snapshotEntries(fx: Fixture): Promise<{ version: string; entries: { identity: string; sha256: string }[] }> {
  const modelCard = JSON.parse(await readFile(join(fx.modelDir, 'model-card.json'), 'utf8')) as { modelId: string; metric: 'l2' | 'cosine'; embeddingSize: number };
  const index = await openSnapshot(fx.indexDir, { expect: { dim: modelCard.embeddingSize, metric: modelCard.metric, modelId: modelCard.modelId } });
  return { version: index.version, entries: index.manifest.entries.map((e) => ({ identity: e.identity, sha256: e.sha256 })) };
}

/** Every identity with its image count, through the paged listing. */
async function listing(url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const res = await fetch(`${url}/v1/gallery?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { headers: bearer(READ_KEY) });
    const page = (await res.json()) as { identities: { identity: string; images: number }[]; nextCursor: string | null };
    for (const i of page.identities) out.set(i.identity, i.images);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

interface Ready {
  status: string;
  index: { version: string | null; refused: { version: string; code: string; message: string } | null };
}
const readyz = async (url: string): Promise<{ http: number; body: Ready }> => {
  const res = await fetch(`${url}/readyz`);
  return { http: res.status, body: (await res.json()) as Ready };
};

/** Waits until the server serves `version` (fs.watch or the poll), up to `ms`. */
async function waitForVersion(url: string, version: string, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await readyz(url)).body.index.version === version) return true;
    await sleep(25);
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// (a) SIGKILL of the re-index: scripts/index-crash.ts

/**
 * @example
 * const r = await killReindex({ kills: 20, images: 1000, seed: 1 }); r.allVerified // true
 */
export function killReindex(options: { kills: number; images: number; seed: number; log?: Log }): Promise<CrashResult> {
  return runCrashTest(options);
}

// ---------------------------------------------------------------------------------------------
// (a') Enrolments while the re-index is killed

export interface EnrolKillResult {
  rounds: number;
  /** Re-index runs that were killed mid-run / that finished before their kill. */
  killed: number;
  finishedFirst: number;
  /** Enrolments answered 201 (acknowledged) and any other answers. */
  acknowledged: number;
  otherAnswers: Record<string, number>;
  /** Acknowledged enrolments missing from: the live listing, the final snapshot, a restarted server. */
  lostLive: string[];
  lostSnapshot: string[];
  lostAfterRestart: string[];
  /** CURRENT verified after every kill. */
  currentAlwaysValid: boolean;
  finalVersion: string;
  seconds: number;
}

/**
 * Serves a fixture in this process, enrols distinct images over HTTP (2 clients) while a
 * re-index CLI is started and SIGKILLed `rounds` times at random moments (every third run is
 * left to finish, so snapshots also swap in), then checks every acknowledged enrolment.
 *
 * @example
 * const r = await enrolWhileKilling({ rounds: 5, seed: 1 }); r.lostSnapshot // []
 */
export async function enrolWhileKilling(options: { rounds: number; seed: number; log?: Log }): Promise<EnrolKillResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const rng = createRng(options.seed);
  const fx = await createFixture({ identities: 6, perIdentity: 4 });
  let server: HostileServer | null = await serveFixture(fx, { RELOAD_POLL_MS: '100' }, { keepFixture: true });
  try {
    const url = server.url;
    const acknowledged = new Map<string, string>(); // identity -> sha256
    const otherAnswers: Record<string, number> = {};
    let stop = false;
    let next = 0;
    const enroller = async (): Promise<void> => {
      while (!stop) {
        const i = next++;
        const identity = `enrolled-${String(i).padStart(4, '0')}`;
        try {
          const res = await fetch(`${url}/v1/gallery/${identity}`, { method: 'POST', body: await syntheticPng(7_000_000 + i), headers: { ...bearer(ADMIN_KEY), 'content-type': 'image/png' } });
          const body = (await res.json()) as { sha256?: string[] };
          if (res.status === 201 && body.sha256?.[0]) acknowledged.set(identity, body.sha256[0]);
          else otherAnswers[String(res.status)] = (otherAnswers[String(res.status)] ?? 0) + 1;
        } catch (error) {
          otherAnswers[(error as Error).message] = (otherAnswers[(error as Error).message] ?? 0) + 1;
        }
        await sleep(5);
      }
    };
    const clients = [enroller(), enroller()];
    // One uninterrupted run to learn how long a run takes here.
    const timing = await reindex(reindexArgs(fx));
    if (timing.code !== 0) throw new Error(`re-index failed: ${timing.stderr}`);
    let killed = 0;
    let finishedFirst = 0;
    let currentAlwaysValid = true;
    for (let round = 1; round <= options.rounds; round++) {
      const letFinish = round % 3 === 0;
      const plan = letFinish ? undefined : round % 2 === 0 ? { afterTempDirMs: Math.round(rng.next() * 30), indexDir: fx.indexDir } : { afterMs: Math.round(timing.ms * (0.3 + rng.next() * 0.8)) };
      const run = await reindex(reindexArgs(fx), plan);
      if (run.killed) killed++;
      else finishedFirst++;
      try {
        await snapshotEntries(fx);
      } catch (error) {
        currentAlwaysValid = false;
        log(`enrol round ${round}: CURRENT does not verify: ${(error as Error).message}`);
      }
      log(`enrol round ${round}: ${run.killed ? `killed (${plan && 'afterMs' in plan ? `${plan.afterMs} ms after spawn` : 'during the snapshot write'})` : `exit ${run.code}`}, ${acknowledged.size} enrolments acknowledged so far`);
    }
    stop = true;
    await Promise.all(clients);
    // A last complete run folds every journal record into a snapshot; the server swaps it in.
    const final = await reindex(reindexArgs(fx));
    if (final.code !== 0) throw new Error(`final re-index failed: ${final.stderr}`);
    const { version, entries } = await snapshotEntries(fx);
    await waitForVersion(url, version);
    const live = await listing(url);
    const inSnapshot = new Set(entries.map((e) => `${e.identity}\u0000${e.sha256}`));
    const lostLive = [...acknowledged.keys()].filter((id) => !live.get(id));
    const lostSnapshot = [...acknowledged].filter(([id, sha]) => !inSnapshot.has(`${id}\u0000${sha}`)).map(([id]) => id);
    // Restart on the same folders: what a crash of the server itself would leave.
    await server.close();
    server = await serveFixture(fx, { RELOAD_POLL_MS: '100' }, { keepFixture: true });
    const restarted = await listing(server.url);
    const lostAfterRestart = [...acknowledged.keys()].filter((id) => !restarted.get(id));
    return {
      rounds: options.rounds,
      killed,
      finishedFirst,
      acknowledged: acknowledged.size,
      otherAnswers,
      lostLive,
      lostSnapshot,
      lostAfterRestart,
      currentAlwaysValid,
      finalVersion: version,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await server?.close();
    await fx.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// (b) One flipped byte in the live snapshot

export interface FlipResult {
  servingBefore: string;
  corrupted: string;
  /** The file and byte offset flipped. */
  flipped: { file: string; offset: number };
  readyz: { http: number; status: string; refusedCode: string | null; serving: string | null };
  metricsRefused: boolean;
  reloadFailures: number;
  /** Searches during the episode: statuses and the versions they were answered from. */
  searches: Record<string, number>;
  searchVersions: string[];
  /** A server started fresh on the corrupted CURRENT: its /readyz. */
  freshStart: { http: number; status: string; refusedCode: string | null };
  /** What an incremental re-index says over the damaged snapshot. */
  reindexRefusal: string;
  /** After a full build: served again, not degraded. */
  recovered: { version: string; status: string };
}

/**
 * @example
 * const r = await flippedByte(); r.readyz.status // 'degraded'
 */
export async function flippedByte(options: { file?: 'hnsw.bin' | 'vectors.f32' | 'manifest.json'; seed?: number } = {}): Promise<FlipResult> {
  const file = options.file ?? 'hnsw.bin';
  const rng = createRng(options.seed ?? 1);
  const fx = await createFixture({ identities: 4, perIdentity: 3 });
  let server: HostileServer | null = await serveFixture(fx, { RELOAD_POLL_MS: '100' }, { keepFixture: true });
  try {
    const url = server.url;
    const servingBefore = (await readyz(url)).body.index.version ?? '';
    // Build the next snapshot in a copy of index/, flip one byte, then install it as the live one
    // (folder rename + atomic CURRENT switch): CURRENT names a damaged snapshot, as after bit rot.
    const staging = join(fx.dir, 'staging');
    await cp(fx.indexDir, staging, { recursive: true });
    await writeFile(join(fx.galleryDir, 'id000', 'flip.png'), await syntheticPng(424_242));
    const embedder = await openEmbedder(fx.modelDir, { workers: 0 });
    let corrupted: string;
    try {
      corrupted = (await runIndex({ indexDir: staging, store: new GalleryStore(fx.galleryDir), embedder, mode: 'reindex' })).version;
    } finally {
      await embedder.close();
    }
    const target = join(staging, corrupted, file);
    const bytes = await readFile(target);
    const offset = rng.int(bytes.length);
    bytes[offset] ^= 0x01 << rng.int(8);
    await writeFile(target, bytes);
    await rename(join(staging, corrupted), join(fx.indexDir, corrupted));
    const png = await syntheticPng(1001);
    const searches: Record<string, number> = {};
    const versions = new Set<string>();
    const searchOnce = async (): Promise<void> => {
      const res = await fetch(`${url}/v1/search`, { method: 'POST', body: png, headers: bearer(READ_KEY) });
      searches[String(res.status)] = (searches[String(res.status)] ?? 0) + 1;
      if (res.status === 200) versions.add(((await res.json()) as { index: { version: string } }).index.version);
      else await res.arrayBuffer();
    };
    await searchOnce();
    await switchCurrent(fx.indexDir, corrupted);
    let ready = await readyz(url);
    for (let i = 0; i < 200 && !ready.body.index.refused; i++) {
      await searchOnce();
      await sleep(25);
      ready = await readyz(url);
    }
    for (let i = 0; i < 20; i++) await searchOnce();
    const metrics = await (await fetch(`${url}/metrics`, { headers: bearer(READ_KEY) })).text();
    const metricsRefused = new RegExp(`twinsearch_index_refused\\{[^}]*version="${corrupted}"[^}]*\\} 1`).test(metrics);
    const reloadFailures = Number(/^twinsearch_index_reload_failures(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? NaN);

    // A fresh process on the damaged CURRENT refuses it too (and has nothing older loaded).
    await server.close();
    server = await serveFixture(fx, { RELOAD_POLL_MS: '100' }, { keepFixture: true });
    const fresh = await readyz(server.url);

    // Recovery: an incremental re-index refuses to start from a damaged snapshot ("run a full build"), so the operator runs one.
    const recoverEmbedder = await openEmbedder(fx.modelDir, { workers: 0 });
    let good: string;
    let reindexRefusal = '';
    try {
      reindexRefusal = await runIndex({ indexDir: fx.indexDir, store: new GalleryStore(fx.galleryDir), embedder: recoverEmbedder, mode: 'reindex' }).then(
        () => 'accepted',
        (error: Error) => `${(error as { code?: string }).code}: ${error.message}`,
      );
      good = (await runIndex({ indexDir: fx.indexDir, store: new GalleryStore(fx.galleryDir), embedder: recoverEmbedder, mode: 'build' })).version;
    } finally {
      await recoverEmbedder.close();
    }
    await waitForVersion(server.url, good);
    const after = await readyz(server.url);
    return {
      servingBefore,
      corrupted,
      flipped: { file, offset },
      readyz: { http: ready.http, status: ready.body.status, refusedCode: ready.body.index.refused?.code ?? null, serving: ready.body.index.version },
      metricsRefused,
      reloadFailures,
      searches,
      searchVersions: [...versions],
      freshStart: { http: fresh.http, status: fresh.body.status, refusedCode: fresh.body.index.refused?.code ?? null },
      reindexRefusal,
      recovered: { version: after.body.index.version ?? '', status: after.body.status },
    };
  } finally {
    await server?.close();
    await fx.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// (c) A full disk during the re-index

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
  let server: HostileServer | null = null;
  try {
    const built = await reindex(['--model', fx.modelDir, '--gallery', fx.galleryDir, '--out', fx.indexDir, '--workers', '0', '--backend', 'wasm', '--no-progress']);
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

// ---------------------------------------------------------------------------------------------
// Load: `connections` clients, each one request at a time

export interface LoadStats {
  requests: number;
  statuses: Record<string, number>;
  /** Network errors by message (no HTTP answer). */
  errors: Record<string, number>;
  versions: string[];
}

/**
 * One search (node:http). With `agent` (keep-alive, one connection per client, as a proxy or
 * autocannon would), or over a fresh connection each time (`agent: false`).
 */
function searchRequest(url: string, body: Uint8Array, agent: Agent | false): Promise<{ status: number; version: string | null; error?: string; startedAt: number; sentAt?: number }> {
  const startedAt = performance.now();
  let sentAt: number | undefined;
  return new Promise((done) => {
    const req = httpRequest(`${url}/v1/search`, { method: 'POST', agent, headers: { ...bearer(READ_KEY), 'content-type': 'image/png', 'content-length': body.byteLength } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', (e) => done({ status: res.statusCode ?? 0, version: null, error: e.message, startedAt }));
      res.on('end', () => {
        let version: string | null = null;
        try {
          version = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { index?: { version?: string } }).index?.version ?? null;
        } catch {
          version = null;
        }
        done({ status: res.statusCode ?? 0, version, startedAt });
      });
    });
    req.on('error', (e) => done({ status: 0, version: null, error: (e as NodeJS.ErrnoException).code ?? e.message, startedAt, sentAt }));
    req.on('finish', () => (sentAt = performance.now()));
    req.end(body);
  });
}

/** Runs `connections` search loops (one request at a time each) while `during()` runs; returns what they saw. */
async function loadWhile(
  url: string,
  connections: number,
  during: () => Promise<void>,
  options: { keepAlive?: boolean; onResult?: (r: Awaited<ReturnType<typeof searchRequest>> & { endedAt: number }) => void } = {},
): Promise<LoadStats> {
  const png = await syntheticPng(2002);
  const agent = (options.keepAlive ?? true) ? new Agent({ keepAlive: true, maxSockets: connections }) : false;
  const onResult = options.onResult;
  const stats: LoadStats = { requests: 0, statuses: {}, errors: {}, versions: [] };
  const versions = new Set<string>();
  let stop = false;
  const client = async (): Promise<void> => {
    while (!stop) {
      const r = await searchRequest(url, png, agent);
      onResult?.({ ...r, endedAt: performance.now() });
      stats.requests++;
      if (r.status) stats.statuses[String(r.status)] = (stats.statuses[String(r.status)] ?? 0) + 1;
      else stats.errors[r.error ?? 'unknown'] = (stats.errors[r.error ?? 'unknown'] ?? 0) + 1;
      if (r.version) versions.add(r.version);
      if (!r.status) await sleep(20); // refused: do not spin
    }
  };
  const clients = Array.from({ length: connections }, client);
  try {
    await during();
  } finally {
    stop = true;
    await Promise.all(clients);
    if (agent) agent.destroy();
  }
  stats.versions = [...versions];
  return stats;
}

// ---------------------------------------------------------------------------------------------
// (d) Two hot swaps under load

export interface SwapResult {
  connections: number;
  seconds: number;
  load: LoadStats;
  failed: number;
  swappedTo: string[];
  initial: string;
  /** How long the server took to serve each new snapshot after its CURRENT switched. */
  swapLatencyMs: number[];
}

/**
 * @example
 * const r = await hotSwapsUnderLoad({ connections: 64, seconds: 10 }); r.failed // 0
 */
export async function hotSwapsUnderLoad(options: { connections: number; seconds: number }): Promise<SwapResult> {
  const fx = await createFixture({ identities: 8, perIdentity: 4 });
  const server = await serveFixture(fx, { RELOAD_POLL_MS: '200', EMBED_WORKERS: '1' });
  try {
    const initial = (await readyz(server.url)).body.index.version ?? '';
    const swappedTo: string[] = [];
    const swapLatencyMs: number[] = [];
    const began = performance.now();
    const load = await loadWhile(server.url, options.connections, async () => {
      const third = (options.seconds * 1000) / 3;
      for (let round = 0; round < 2; round++) {
        await sleep(third * (round + 1) - (performance.now() - began));
        await writeFile(join(fx.galleryDir, 'id000', `swap-${round}.png`), await syntheticPng(9_000_000 + round));
        // The re-index runs as its own process, as `npm run reindex` would; the server's watcher picks it up.
        const run = await reindex(reindexArgs(fx));
        if (run.code !== 0) throw new Error(`re-index failed: ${run.stderr}`);
        const version = (await readCurrent(fx.indexDir)) ?? '';
        const t = performance.now();
        await waitForVersion(server.url, version, 20_000);
        swapLatencyMs.push(Math.round(performance.now() - t));
        swappedTo.push(version);
      }
      await sleep(Math.max(0, options.seconds * 1000 - (performance.now() - began)));
    });
    const failed = load.requests - (load.statuses['200'] ?? 0);
    return { connections: options.connections, seconds: Math.round((performance.now() - began) / 100) / 10, load, failed, swappedTo, initial, swapLatencyMs };
  } finally {
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// (e) SIGTERM under load

export interface SigtermResult {
  connections: number;
  exitCode: number | null;
  /** From SIGTERM to process exit. */
  drainMs: number;
  /** Requests under way when SIGTERM was sent, and how they ended. */
  inFlightAtSignal: number;
  inFlightCompleted200: number;
  /** In-flight requests that did not get a 200, by error (or status); and how many of them had been fully sent. */
  inFlightFailed: Record<string, number>;
  inFlightFailedFullySent: number;
  /** Requests started after the signal: refused connections are expected. */
  afterSignal: Record<string, number>;
  load: LoadStats;
}

/**
 * Starts `npm run dev`'s CLI (a child process) on a fixture, puts `connections` clients on it,
 * sends SIGTERM after `loadMs`, and follows every request under way at that moment.
 *
 * @example
 * const r = await sigtermUnderLoad({ connections: 64, loadMs: 3000 }); r.inFlightFailed // {}
 */
export async function sigtermUnderLoad(options: { connections: number; loadMs: number; keepAlive?: boolean }): Promise<SigtermResult> {
  const fx = await createFixture({ identities: 8, perIdentity: 4 });
  const config = await writeFixtureConfig(fx, { EMBED_WORKERS: '0' });
  const child = spawn(process.execPath, ['--import', 'tsx', join(repo, 'src/cli/dev.ts'), '--config', config, '--port', '0', '--no-crons'], { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    let stderr = '';
    const url = await new Promise<string>((ok, fail) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /twinsearch API on (http:\/\/[^\s]+)/.exec(stderr);
        if (m) ok(m[1]);
      });
      child.on('exit', (code) => fail(new Error(`dev exited with ${code}: ${stderr}`)));
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let signalAt = Infinity;
    const outcomes = new Map<number, { status: number; error?: string; sentBeforeSignal: boolean }>();
    let id = 0;
    let exitAt = 0;
    const afterSignal: Record<string, number> = {};
    const load = await loadWhile(
      url,
      options.connections,
      async () => {
        await sleep(options.loadMs);
        signalAt = performance.now();
        child.kill('SIGTERM');
        await exited;
        exitAt = performance.now();
      },
      { keepAlive: options.keepAlive, onResult: (r) => {
        // Match results to requests by start time: anything started before the signal and ending after it was in flight.
        const key = id++;
        if (r.startedAt < signalAt && r.endedAt >= signalAt) outcomes.set(key, { status: r.status, error: r.error, sentBeforeSignal: r.sentAt !== undefined && r.sentAt < signalAt });
        if (r.startedAt >= signalAt) afterSignal[r.status ? String(r.status) : (r.error ?? 'unknown')] = (afterSignal[r.status ? String(r.status) : (r.error ?? 'unknown')] ?? 0) + 1;
      } },
    );
    const inFlight = [...outcomes.values()];
    return {
      connections: options.connections,
      exitCode: child.exitCode,
      drainMs: Math.round(exitAt - signalAt),
      inFlightAtSignal: inFlight.length,
      inFlightCompleted200: inFlight.filter((o) => o.status === 200).length,
      inFlightFailed: inFlight.filter((o) => o.status !== 200).reduce<Record<string, number>>((m, o) => {
        const key = o.status ? String(o.status) : (o.error ?? 'unknown');
        m[key] = (m[key] ?? 0) + 1;
        return m;
      }, {}),
      inFlightFailedFullySent: inFlight.filter((o) => o.status !== 200 && o.sentBeforeSignal).length,
      afterSignal,
      load,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fx.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------

/** One line of numbers per scenario, for the markdown summary. */
function summary(name: string, r: Record<string, unknown>): string {
  const j = (v: unknown): string => JSON.stringify(v);
  switch (name) {
    case 'kill': {
      const c = r as unknown as CrashResult;
      return `${c.kills} SIGKILLs (${c.records.filter((x) => !x.finishedFirst).length} mid-run), ${c.images} images; CURRENT verified after every kill: ${c.allVerified}; next run completed: ${c.allCompleted}`;
    }
    case 'enrol': {
      const e = r as unknown as EnrolKillResult;
      return `${e.rounds} re-index runs (${e.killed} SIGKILLed), ${e.acknowledged} enrolments acknowledged, other answers ${j(e.otherAnswers)}; lost: live ${e.lostLive.length}, snapshot ${e.lostSnapshot.length}, after restart ${e.lostAfterRestart.length}; CURRENT always valid: ${e.currentAlwaysValid}`;
    }
    case 'flip': {
      const f = r as unknown as FlipResult;
      return `byte ${f.flipped.offset} of ${f.flipped.file} flipped; /readyz ${f.readyz.http} ${f.readyz.status} (${f.readyz.refusedCode}), serving ${f.readyz.serving === f.servingBefore ? 'the old snapshot' : f.readyz.serving}; searches ${j(f.searches)}; fresh start ${f.freshStart.http} ${f.freshStart.status}; full build recovered: ${f.recovered.status}`;
    }
    case 'disk': {
      const d = r as unknown as DiskResult;
      if (d.skipped !== null) return `skipped: ${d.skipped}`;
      return `${d.tmpfsKiB} KiB tmpfs, ${d.freeKiBBeforeRun} KiB free for a ${d.snapshotKiB} KiB snapshot: exit ${d.exitCode} \`${d.error}\`; CURRENT ${d.currentAfter === d.currentBefore ? 'unchanged' : 'CHANGED'}, verified ${d.oldVerified}, leftovers ${j(d.leftovers)}, search ${d.serving.status}; after freeing space: exit ${d.recovered.exitCode}`;
    }
    case 'swap': {
      const w = r as unknown as SwapResult;
      return `${w.connections} connections, ${w.seconds} s: ${w.load.requests} requests, ${w.failed} failed, statuses ${j(w.load.statuses)}, errors ${j(w.load.errors)}; swapped to ${w.swappedTo.length} versions, served after ${j(w.swapLatencyMs)} ms`;
    }
    default: {
      const t = r as unknown as SigtermResult;
      return `${t.connections} connections: exit ${t.exitCode} after ${t.drainMs} ms; in flight at SIGTERM ${t.inFlightAtSignal}, completed 200 ${t.inFlightCompleted200}, failed ${j(t.inFlightFailed)}; started after: ${j(t.afterSignal)}`;
    }
  }
}

function markdown(results: Record<string, unknown>): string {
  const rows = Object.entries(results)
    .filter(([, v]) => typeof v === 'object' && v !== null)
    .map(([name, v]) => `| ${name} | ${(v as { pass: boolean }).pass ? 'pass' : '**FAIL**'} | ${(v as { wallSeconds: number }).wallSeconds} | ${summary(name, v as Record<string, unknown>)} |`);
  return [`# Fault injection (${String(results.date)}, Node ${String(results.node)})`, '', '| scenario | result | wall s | numbers |', '|---|---|---:|---|', ...rows, ''].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string', default: '20' },
      images: { type: 'string', default: '1000' },
      'enrol-kills': { type: 'string', default: '20' },
      connections: { type: 'string', default: '64' },
      seconds: { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      only: { type: 'string', default: 'kill,enrol,flip,disk,swap,sigterm,sigterm-fresh-connections' },
      out: { type: 'string', default: join(repo, 'bench/results') },
    },
  });
  const only = new Set((values.only as string).split(','));
  const seed = Number(values.seed);
  const connections = Number(values.connections);
  const log: Log = (l) => console.log(l);
  const results: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };
  let ok = true;
  const timed = async <T>(name: string, work: () => Promise<T>, passed: (r: T) => boolean): Promise<void> => {
    if (!only.has(name)) return;
    const t = performance.now();
    const r = await work();
    const pass = passed(r);
    ok &&= pass;
    results[name] = { ...r, pass, wallSeconds: Math.round((performance.now() - t) / 100) / 10 };
    console.log(`${name}: ${pass ? 'PASS' : 'FAIL'} ${JSON.stringify(results[name])}`);
  };
  await timed('kill', () => killReindex({ kills: Number(values.kills), images: Number(values.images), seed, log }), (r) => r.allVerified && r.allCompleted);
  await timed('enrol', () => enrolWhileKilling({ rounds: Number(values['enrol-kills']), seed, log }), (r) => r.currentAlwaysValid && !r.lostLive.length && !r.lostSnapshot.length && !r.lostAfterRestart.length && r.acknowledged > 0);
  await timed('flip', () => flippedByte({ seed }), (r) => r.readyz.status === 'degraded' && r.searchVersions.length === 1 && r.searchVersions[0] === r.servingBefore && Object.keys(r.searches).join() === '200' && r.freshStart.http === 503 && r.recovered.status === 'ready');
  await timed('disk', () => fullDisk({ sizeMiB: 2 }), (r) => r.skipped !== null || (r.exitCode !== 0 && r.currentAfter === r.currentBefore && r.oldVerified && r.serving.status === 200 && r.recovered.exitCode === 0));
  await timed('swap', () => hotSwapsUnderLoad({ connections, seconds: Number(values.seconds) }), (r) => r.failed === 0 && r.swappedTo.length === 2 && r.swappedTo.every((v) => r.load.versions.includes(v)));
  await timed('sigterm', () => sigtermUnderLoad({ connections, loadMs: 3000 }), (r) => r.exitCode === 0 && Object.keys(r.inFlightFailed).length === 0);
  // Clients that open a new connection per request (no keep-alive): those whose connections still wait in
  // the listener's accept queue at the signal must complete too (docs/reliability.md, (e)).
  await timed('sigterm-fresh-connections', () => sigtermUnderLoad({ connections, loadMs: 3000, keepAlive: false }), (r) => r.exitCode === 0 && Object.keys(r.inFlightFailed).length === 0);
  const files = await writeResults(values.out as string, 'faults', results, markdown(results));
  console.log(`wrote ${files.join(', ')}`);
  if (!ok) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
