/**
 * What every store tracks about the generations it served: swaps, refusals, reload checks and
 * the listeners told about them; and the queue that runs one reload at a time.
 */
import type { StoreLog } from './local-store.js';
import type { ReloadOutcome, RefusedGeneration, StoreStatus } from './vector-store.js';

/** What a store's status says about where its index lives and how to build one. */
export interface ProblemContext {
  /** Where the index lives, in words (`/srv/index/faces`, `schema twinsearch of the database`). */
  where: string;
  /** The model this instance serves. */
  expectedModel?: string;
  /** The command that builds this model's index. */
  buildCommand?: string;
}

export class ReloadTracker {
  refused: RefusedGeneration | null = null;
  /** No generation was published at the last check. */
  noIndex = false;
  loadedAt: string | null = null;
  swaps = 0;
  reloadFailures = 0;
  lastCheckAt: string | null = null;
  private readonly listeners = new Set<(outcome: ReloadOutcome, generation: string | null) => void>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: StoreLog,
    private readonly context: ProblemContext,
  ) {}

  status(generation: string | null): StoreStatus {
    const { refused, loadedAt, swaps, reloadFailures, lastCheckAt } = this;
    return { ready: generation !== null, generation, loadedAt, refused, swaps, reloadFailures, lastCheckAt, problem: this.problem(generation) };
  }

  /** Why the newest generation cannot serve, in words, with the command that fixes it (null when it serves). */
  private problem(serving: string | null): StoreStatus['problem'] {
    const { where, expectedModel, buildCommand } = this.context;
    const fix = buildCommand ? { fix: buildCommand } : {};
    if (this.refused) {
      const { builtWith, generation } = this.refused;
      const what = builtWith
        ? `${where} holds the index of model ${builtWith} (generation ${generation}), not of this server's model ${expectedModel ?? ''}`.trimEnd()
        : this.refused.message;
      return { code: builtWith ? 'OTHER_MODEL' : 'REFUSED', message: serving ? `${what}; generation ${serving} keeps serving` : what, ...fix };
    }
    if (serving === null && this.noIndex) return { code: 'NO_INDEX', message: `no index has been built in ${where} yet`, ...fix };
    return null;
  }

  onReload(listener: (outcome: ReloadOutcome, generation: string | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `check` after the reloads before it (one open at a time); a failure does not block the next. */
  serial(check: () => Promise<ReloadOutcome>): Promise<ReloadOutcome> {
    const run = this.queue.then(() => {
      this.lastCheckAt = new Date().toISOString();
      return check();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Waits for the reload in progress, if any. */
  settled(): Promise<unknown> {
    return this.queue.catch(() => undefined);
  }

  /** Records a generation swapped in (the caller already serves it). */
  swapped(generation: string): ReloadOutcome {
    this.loadedAt = new Date().toISOString();
    this.swaps++;
    if (this.refused && this.refused.generation !== generation) this.refused = null;
    this.emit('swapped', generation);
    return 'swapped';
  }

  /** Forgets a refusal once its cause is gone (CURRENT became readable again). */
  clearRefusal(generation: string): void {
    if (this.refused?.generation === generation) this.refused = null;
  }

  /** Records a generation that cannot be served (remembered, logged, reported by status()). */
  refuse(generation: string, code: string, message: string, serving: string | null, builtWith?: string): ReloadOutcome {
    this.refused = { generation, code, message, at: new Date().toISOString(), ...(builtWith ? { builtWith } : {}) };
    this.reloadFailures++;
    const fix = this.context.buildCommand;
    this.log.error({ version: generation, code, err: message, serving, ...(fix ? { fix } : {}) }, serving ? 'index generation refused; the previous one keeps serving' : 'index generation refused; nothing is serving');
    this.emit('refused', generation);
    return 'refused';
  }

  private emit(outcome: ReloadOutcome, generation: string | null): void {
    for (const l of this.listeners) {
      try {
        l(outcome, generation);
      } catch {
        /* a listener's failure is not the store's */
      }
    }
  }
}
