/**
 * Runners that stand for another one not started yet: `handoffRunner` serves with a stand-in
 * (the model in this thread, loaded in well under a second) until worker threads (a second or
 * more to boot their own tfjs) are ready; `pendingRunner` queues passes until its runner exists.
 */
import type { Runner } from './runner.js';

export interface HandoffOptions {
  /** Called once the hand-off happened (e.g. to free the stand-in's model), after its last pass finished. */
  onHandoff?: () => void;
  /** Called if the successor failed to start; the stand-in then keeps serving. */
  onSuccessorFailed?: (error: Error) => void;
}

/**
 * Serves with `standIn` until `successor` is ready, then hands every later pass to the
 * successor, so a search is answered while workers still start: cold start is that of
 * in-thread embedding. If the successor fails to start, the stand-in keeps serving.
 *
 * @example
 * const runner = handoffRunner(inThreadRunner(tower, recipe, { owned: true }), startWorkerRunner(init, 2), {
 *   onHandoff: () => void standIn.close(),
 * });
 */
export function handoffRunner(standIn: Runner, successor: Promise<Runner>, options: HandoffOptions = {}): Runner {
  let next: Runner | null = null;
  let standInPasses = 0;
  let handedOff = false;
  const finishHandoff = (): void => {
    if (next && !handedOff && standInPasses === 0) {
      handedOff = true;
      options.onHandoff?.();
    }
  };
  const ready = successor.then(
    (runner) => {
      next = runner;
      finishHandoff();
      return runner;
    },
    (error: unknown) => {
      options.onSuccessorFailed?.(error instanceof Error ? error : new Error(String(error)));
      return null;
    },
  );
  return {
    get slots() {
      return next ? next.slots : standIn.slots;
    },
    async run(data, count) {
      if (next) return next.run(data, count);
      standInPasses++;
      try {
        return await standIn.run(data, count);
      } finally {
        standInPasses--;
        finishHandoff();
      }
    },
    async close() {
      const started = await ready;
      await Promise.all([standIn.close(), started?.close()]);
    },
  };
}

/**
 * A runner whose passes wait for `runner` to start (and fail if it does not). `slots` is the
 * expected parallelism until then.
 *
 * @example
 * const runner = pendingRunner(startWorkerRunner(init, 2), 2); // usable at once
 */
export function pendingRunner(runner: Promise<Runner>, slots: number): Runner {
  let started: Runner | null = null;
  runner.then((r) => (started = r), () => undefined);
  return {
    get slots() {
      return started ? started.slots : slots;
    },
    run: async (data, count) => (await runner).run(data, count),
    close: async () => (await runner.catch(() => null))?.close(),
  };
}
