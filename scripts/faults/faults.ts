/**
 * `npm run faults`: fault injection against twinsearch. Runs every scenario at full size and writes
 * bench/results/faults.{json,md}; test/faults.test.ts runs small versions in `npm test`.
 *
 *   npm run faults -- [--kills 20] [--images 1000] [--enrol-kills 20] [--connections 64] [--seconds 20] [--seed 1]
 *       [--only kill,enrol,flip,disk,swap,sigterm,sigterm-fresh-connections] [--out bench/results]
 *
 * - kill:    SIGKILL `npm run reindex` at >= 20 random moments (crash.ts): CURRENT verifies after every kill.
 * - enrol:   enrolments over HTTP while the re-index is SIGKILLed again and again (enrol.ts): none acknowledged is lost.
 * - flip:    one flipped byte in the snapshot CURRENT names (flip.ts): refused, degraded, the old one keeps serving.
 * - disk:    the index folder on a 2 MiB tmpfs, too full for a snapshot (disk.ts, needs root): a clear error, nothing lost.
 * - swap:    two re-indexes swapped in while `connections` clients search (swap.ts): zero failed requests.
 * - sigterm: SIGTERM to `npm run dev` while `connections` keep-alive clients search (sigterm.ts): requests in flight
 *            complete, exit 0. `sigterm-fresh-connections` repeats it with a new connection per request.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeResults } from '../bench/common.js';
import { RESULTS_DIR } from '../bench/context.js';
import { assembleBenchmarksDoc } from '../bench/index-page.js';
import { runCrashTest } from './crash.js';
import { fullDisk } from './disk.js';
import { enrolWhileKilling } from './enrol.js';
import type { Log } from './fixture.js';
import { flippedByte } from './flip.js';
import { faultsMarkdown } from './report.js';
import { sigtermUnderLoad } from './sigterm.js';
import { hotSwapsUnderLoad } from './swap.js';

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
      out: { type: 'string', default: RESULTS_DIR },
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
  await timed('kill', () => runCrashTest({ kills: Number(values.kills), images: Number(values.images), seed, log }), (r) => r.allVerified && r.allCompleted);
  await timed('enrol', () => enrolWhileKilling({ rounds: Number(values['enrol-kills']), seed, log }), (r) => r.currentAlwaysValid && !r.lostLive.length && !r.lostSnapshot.length && !r.lostAfterRestart.length && r.acknowledged > 0);
  await timed('flip', () => flippedByte({ seed }), (r) => r.readyz.status === 'degraded' && r.searchVersions.length === 1 && r.searchVersions[0] === r.servingBefore && Object.keys(r.searches).join() === '200' && r.freshStart.http === 503 && r.recovered.status === 'ready');
  await timed('disk', () => fullDisk({ sizeMiB: 2 }), (r) => r.skipped !== null || (r.exitCode !== 0 && r.currentAfter === r.currentBefore && r.oldVerified && r.serving.status === 200 && r.recovered.exitCode === 0));
  await timed('swap', () => hotSwapsUnderLoad({ connections, seconds: Number(values.seconds) }), (r) => r.failed === 0 && r.swappedTo.length === 2 && r.swappedTo.every((v) => r.load.versions.includes(v)));
  await timed('sigterm', () => sigtermUnderLoad({ connections, loadMs: 3000 }), (r) => r.exitCode === 0 && Object.keys(r.inFlightFailed).length === 0);
  // Clients that open a new connection per request (no keep-alive): those whose connections still wait in
  // the listener's accept queue at the signal must complete too (docs/reliability.md, (e)).
  await timed('sigterm-fresh-connections', () => sigtermUnderLoad({ connections, loadMs: 3000, keepAlive: false }), (r) => r.exitCode === 0 && Object.keys(r.inFlightFailed).length === 0);
  const files = await writeResults(values.out as string, 'faults', results, faultsMarkdown(results));
  console.log(`wrote ${files.join(', ')}`);
  if (resolve(values.out as string) === RESULTS_DIR) await assembleBenchmarksDoc();
  if (!ok) process.exitCode = 1;
}

await main();
