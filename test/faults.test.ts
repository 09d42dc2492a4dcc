/**
 * Fault injection, small versions of `npm run faults` (scripts/faults/; the full run's numbers are in
 * bench/results/faults.md): enrolments while the re-index is SIGKILLed, a flipped byte in the live
 * snapshot, a full disk during the re-index (tmpfs, root only), two hot swaps under 64
 * connections, SIGTERM under 64 connections (keep-alive, and a new connection per request).
 */
import { describe, expect, it } from 'vitest';
import { fullDisk } from '../scripts/faults/disk.js';
import { enrolWhileKilling } from '../scripts/faults/enrol.js';
import { flippedByte } from '../scripts/faults/flip.js';
import { sigtermUnderLoad } from '../scripts/faults/sigterm.js';
import { hotSwapsUnderLoad } from '../scripts/faults/swap.js';

describe('fault injection', () => {
  it('SIGKILLed re-indexes while clients enrol: CURRENT always verifies, no acknowledged enrolment is lost', async () => {
    const r = await enrolWhileKilling({ rounds: 4, seed: 3 });
    expect(r.killed).toBeGreaterThanOrEqual(1);
    expect(r.currentAlwaysValid).toBe(true);
    expect(r.acknowledged).toBeGreaterThan(10);
    expect(r.otherAnswers).toEqual({});
    expect(r.lostLive).toEqual([]);
    expect(r.lostSnapshot).toEqual([]);
    expect(r.lostAfterRestart).toEqual([]);
  }, 120_000);

  it('one flipped byte in the snapshot CURRENT names: refused, degraded, the old one keeps serving', async () => {
    const r = await flippedByte({ seed: 2 });
    expect(r.readyz).toMatchObject({ http: 200, status: 'degraded', refusedCode: 'CORRUPT_SNAPSHOT', serving: r.servingBefore });
    expect(r.metricsRefused).toBe(true);
    expect(r.reloadFailures).toBe(1);
    expect(Object.keys(r.searches)).toEqual(['200']);
    expect(r.searchVersions).toEqual([r.servingBefore]);
    // A fresh start on the damaged snapshot does not serve it either; an incremental re-index refuses it; a full build recovers.
    expect(r.freshStart).toMatchObject({ http: 503, status: 'not-ready', refusedCode: 'CORRUPT_SNAPSHOT' });
    expect(r.reindexRefusal).toMatch(/^CORRUPT_SNAPSHOT: .*full build/);
    expect(r.recovered.status).toBe('ready');
    expect(r.recovered.version > r.corrupted).toBe(true);
  }, 60_000);

  it('a full disk during the re-index: a clear error, CURRENT unchanged and verifying, still serving', async (ctx) => {
    const r = await fullDisk({ sizeMiB: 2 });
    if (r.skipped !== null) {
      console.warn(`full-disk scenario skipped: ${r.skipped}`);
      ctx.skip();
      return;
    }
    expect(r.exitCode).toBe(1);
    expect(r.error).toMatch(/^error \[ENOSPC\]: .*no space left on device/);
    expect(r.currentAfter).toBe(r.currentBefore);
    expect(r.oldVerified).toBe(true);
    expect(r.leftovers).toEqual([]);
    expect(r.serving).toEqual({ status: 200, version: r.currentBefore });
    expect(r.recovered.exitCode).toBe(0);
    expect(r.recovered.version).not.toBe(r.currentBefore);
  }, 60_000);

  it('two hot swaps under 64 connections: zero failed requests, both new versions served', async () => {
    const r = await hotSwapsUnderLoad({ connections: 64, seconds: 5 });
    expect(r.failed).toBe(0);
    expect(r.load.errors).toEqual({});
    expect(r.load.requests).toBeGreaterThan(64);
    expect(r.swappedTo).toHaveLength(2);
    expect(r.load.versions.sort()).toEqual([r.initial, ...r.swappedTo].sort());
  }, 120_000);

  it.each([
    { clients: 'keep-alive connections', keepAlive: true },
    // Their connections can still wait in the listener's accept queue at the signal.
    { clients: 'clients opening a new connection per request', keepAlive: false },
  ])('SIGTERM under 64 $clients: every request in flight completes, exit 0', async ({ keepAlive }) => {
    const r = await sigtermUnderLoad({ connections: 64, loadMs: 1500, keepAlive });
    expect(r.exitCode).toBe(0);
    expect(r.inFlightAtSignal).toBeGreaterThan(0);
    expect(r.inFlightFailed).toEqual({});
    expect(r.inFlightCompleted200).toBe(r.inFlightAtSignal);
    // After the signal: refused or closed connections, never a 5xx.
    expect(Object.keys(r.afterSignal).filter((k) => /^5/.test(k))).toEqual([]);
  }, 60_000);
});
