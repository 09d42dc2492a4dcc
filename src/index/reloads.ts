/**
 * What every store tracks about the generations it served: swaps, refusals, reload checks and
 * the listeners told about them; and the queue that runs one reload at a time.
 */
import type { StoreLog } from './local-store.js';
import type { ReloadOutcome, RefusedGeneration, StoreStatus } from './vector-store.js';

export class ReloadTracker {
  refused: RefusedGeneration | null = null;
  loadedAt: string | null = null;
  swaps = 0;
  reloadFailures = 0;
  lastCheckAt: string | null = null;
  private readonly listeners = new Set<(outcome: ReloadOutcome, generation: string | null) => void>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly log: StoreLog) {}

  status(generation: string | null): StoreStatus {
    const { refused, loadedAt, swaps, reloadFailures, lastCheckAt } = this;
    return { ready: generation !== null, generation, loadedAt, refused, swaps, reloadFailures, lastCheckAt };
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

  /** Records a generation that cannot be served (remembered, logged, reported by status()). */
  refuse(generation: string, code: string, message: string, serving: string | null): ReloadOutcome {
    this.refused = { generation, code, message, at: new Date().toISOString() };
    this.reloadFailures++;
    this.log.error({ version: generation, code, err: message, serving }, serving ? 'index generation refused; the previous one keeps serving' : 'index generation refused; nothing is serving');
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
