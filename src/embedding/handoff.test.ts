import { describe, expect, it } from 'vitest';
import { handoffRunner, pendingRunner } from './handoff.js';
import type { Runner } from './runner.js';
import { deferred, manualRunner } from '../../test/fixtures/runners.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('handoffRunner', () => {
  it('serves with the stand-in until the successor is ready, then only with the successor', async () => {
    const standIn = manualRunner();
    const successor = manualRunner(2);
    const successorStarted = deferred<Runner>();
    let handoffs = 0;
    const runner = handoffRunner(standIn.runner, successorStarted.promise, { onHandoff: () => handoffs++ });
    expect(runner.slots).toBe(1);
    const early = runner.run(new Float32Array([7, 0, 0]), 1);
    await tick();
    expect(standIn.calls).toHaveLength(1);
    successorStarted.resolve(successor.runner);
    await tick();
    // The stand-in still has a pass running: the hand-off (freeing its model) waits for it.
    expect(handoffs).toBe(0);
    expect(runner.slots).toBe(2);
    const late = runner.run(new Float32Array([8, 0, 0]), 1);
    await tick();
    expect(successor.calls).toHaveLength(1);
    expect(standIn.calls).toHaveLength(1);
    standIn.calls[0].finish();
    expect(Array.from(await early)).toEqual([7, 1]);
    expect(handoffs).toBe(1);
    successor.calls[0].finish();
    expect(Array.from(await late)).toEqual([8, 1]);
    await runner.close();
    expect(handoffs).toBe(1);
  });

  it('keeps serving with the stand-in when the successor fails to start', async () => {
    const standIn = manualRunner();
    const failures: string[] = [];
    let handoffs = 0;
    const runner = handoffRunner(standIn.runner, Promise.reject(new Error('no worker')), { onHandoff: () => handoffs++, onSuccessorFailed: (e) => failures.push(e.message) });
    await tick();
    expect(failures).toEqual(['no worker']);
    const out = runner.run(new Float32Array([3, 0, 0]), 1);
    await tick();
    standIn.calls[0].finish();
    expect(Array.from(await out)).toEqual([3, 1]);
    await runner.close();
    expect(handoffs).toBe(0);
  });
});

describe('pendingRunner', () => {
  it('holds passes until its runner has started, then runs them there, with the started runner\'s slots', async () => {
    const real = manualRunner(2);
    const started = deferred<Runner>();
    const runner = pendingRunner(started.promise, 1);
    expect(runner.slots).toBe(1);
    const out = runner.run(new Float32Array([5, 0, 0]), 1);
    await tick();
    expect(real.calls).toHaveLength(0);
    started.resolve(real.runner);
    await tick();
    expect(runner.slots).toBe(2);
    real.calls[0].finish();
    expect(Array.from(await out)).toEqual([5, 1]);
  });

  it('fails its passes when the runner fails to start', async () => {
    const runner = pendingRunner(Promise.reject(new Error('no model')), 1);
    await expect(runner.run(new Float32Array(3), 1)).rejects.toThrow('no model');
    await runner.close();
  });
});
