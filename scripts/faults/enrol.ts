/**
 * Enrolments over HTTP while the re-index is started and SIGKILLed again and again: every
 * acknowledged (201) enrolment must be in the listing, in the final snapshot and in a restarted server.
 */
import { encode } from 'fast-png';
import { ADMIN_KEY, bearer, createFixture } from '../../test/fixtures/api.js';
import { createRng } from '../../src/data/rng.js';
import { loadWhile, type LoadRequest } from '../load/index.js';
import { serveFixture, type FixtureServer } from '../server/fixture.js';
import { listing, reindexArgs, snapshotEntries, waitForVersion, type Log } from './fixture.js';
import { reindex } from './reindex-process.js';

export interface EnrolKillResult {
  rounds: number;
  /** Re-index runs that were killed mid-run / that finished before their kill. */
  killed: number;
  finishedFirst: number;
  /** Enrolments answered 201 (acknowledged), and every other outcome: statuses, socket errors, requests lost unanswered. */
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

/** A 28x28 grey PNG of seeded noise, made synchronously (the load helper builds each request as it sends it). */
function noisePng(seed: number): Buffer {
  const rng = createRng(seed);
  const data = Uint8Array.from({ length: 28 * 28 }, () => rng.int(256));
  return Buffer.from(encode({ width: 28, height: 28, data, channels: 1, depth: 8 }));
}

/**
 * Serves a fixture in this process, enrols distinct images over HTTP (2 connections, each a new
 * identity per request) while a re-index CLI is started and SIGKILLed `rounds` times at random
 * moments (every third run is left to finish, so snapshots also swap in), then checks every
 * acknowledged enrolment.
 *
 * @example
 * const r = await enrolWhileKilling({ rounds: 5, seed: 1 }); r.lostSnapshot // []
 */
export async function enrolWhileKilling(options: { rounds: number; seed: number; log?: Log }): Promise<EnrolKillResult> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const rng = createRng(options.seed);
  const fx = await createFixture({ identities: 6, perIdentity: 4 });
  let server: FixtureServer | null = await serveFixture(fx, { RELOAD_POLL_MS: '100' }, { keepFixture: true });
  try {
    const url = server.url;
    const acknowledged = new Map<string, string>(); // identity -> sha256
    const otherAnswers: Record<string, number> = {};
    let next = 0;
    const enrolment = (): LoadRequest => {
      const i = next++;
      return { method: 'POST', path: `/v1/gallery/enrolled-${String(i).padStart(4, '0')}`, body: noisePng(7_000_000 + i), headers: { ...bearer(ADMIN_KEY), 'content-type': 'image/png' } };
    };
    const onResponse = (status: number, body: string, request: LoadRequest): void => {
      let sha: string | undefined;
      try {
        sha = status === 201 ? (JSON.parse(body) as { sha256?: string[] }).sha256?.[0] : undefined;
      } catch {
        sha = undefined; // a 201 without the documented body does not count as acknowledged
      }
      if (sha) acknowledged.set(request.path.slice('/v1/gallery/'.length), sha);
      else otherAnswers[String(status)] = (otherAnswers[String(status)] ?? 0) + 1;
    };
    let killed = 0;
    let finishedFirst = 0;
    let currentAlwaysValid = true;
    // At most 200 enrolments a second per connection: the re-index needs the CPU too.
    const { load } = await loadWhile({ url, connections: 2, requests: enrolment, onResponse, connectionRate: 200 }, async () => {
      // One uninterrupted run to learn how long a run takes here.
      const timing = await reindex(reindexArgs(fx));
      if (timing.code !== 0) throw new Error(`re-index failed: ${timing.stderr}`);
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
    });
    for (const [error, n] of Object.entries(load.errors)) otherAnswers[error] = (otherAnswers[error] ?? 0) + n;
    if (load.unanswered) otherAnswers.unanswered = load.unanswered;
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
