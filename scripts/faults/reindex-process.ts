/** `npm run reindex`'s CLI as a child process, SIGKILLed as planned: the fault scenarios' way to kill a re-index. */
import { spawn } from 'node:child_process';
import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../server/config.js';

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** When to kill: after a fixed delay from spawn, or a random moment after the run starts writing its snapshot. */
export type KillPlan = { afterMs: number } | { afterTempDirMs: number; indexDir: string } | undefined;

/**
 * Starts the re-index CLI as one plain node process (no wrapper that would outlive the kill) and SIGKILLs it as planned.
 *
 * @example
 * const run = await reindex(['--model', dir, '--gallery', g, '--out', out], { afterMs: 500 }); run.killed
 */
export function reindex(args: string[], plan?: KillPlan): Promise<ChildRun & { killed: boolean }> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/reindex.ts'), ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
    let watcher: FSWatcher | undefined;
    const kill = (): void => {
      killed = child.kill('SIGKILL');
    };
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    if (plan && 'afterMs' in plan) timer = setTimeout(kill, plan.afterMs);
    if (plan && 'afterTempDirMs' in plan) {
      // The critical section: temp snapshot folder written, renamed, CURRENT switched, old ones pruned.
      watcher = watch(plan.indexDir, (_event, name) => {
        if (!name?.startsWith('.tmp-') || timer) return;
        timer = setTimeout(kill, plan.afterTempDirMs);
      });
    }
    child.on('error', fail);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      watcher?.close();
      done({ code, signal, stdout, stderr, ms: performance.now() - started, killed: killed && signal === 'SIGKILL' });
    });
  });
}

