/**
 * Progress display for the index CLIs: one cli-progress bar per phase on stderr, with
 * images per second and ETA for embedding. Silent when stderr is not a terminal (cron logs
 * get the summary line only).
 */
import cliProgress from 'cli-progress';
import type { IndexPhase } from './reindex.js';

const LABELS: Record<IndexPhase, string> = { hash: 'list  ', embed: 'embed ', graph: 'graph ', write: 'write ' };

export interface ProgressReporter {
  onProgress(phase: IndexPhase, done: number, total: number): void;
  /** Prints a warning without breaking the bar. */
  warn(message: string): void;
  stop(): void;
}

/**
 * @example
 * const progress = createProgress(process.stderr.isTTY);
 * await runIndex({ …, onProgress: progress.onProgress, onWarning: progress.warn });
 * progress.stop();
 */
export function createProgress(enabled: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  let bar: cliProgress.SingleBar | null = null;
  let phase: IndexPhase | null = null;
  let phaseStart = 0;
  const stop = (): void => {
    bar?.stop();
    bar = null;
    phase = null;
  };
  return {
    onProgress(next, done, total) {
      if (!enabled) return;
      if (phase !== next) {
        stop();
        if (total <= 1 && next !== 'embed' && next !== 'graph') return; // single-step phases need no bar
        phase = next;
        phaseStart = performance.now();
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: `${LABELS[next]} [{bar}] {value}/{total} | {rate} img/s | ETA {eta_formatted}`,
            hideCursor: true,
            etaBuffer: 50,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, 0, { rate: '0' });
      }
      const seconds = (performance.now() - phaseStart) / 1000;
      bar?.update(done, { rate: seconds > 0 ? (done / seconds).toFixed(0) : '0' });
      if (done >= total) stop();
    },
    warn(message) {
      if (bar) stream.write('\n');
      stream.write(`warning: ${message}\n`);
    },
    stop,
  };
}
