/** The markdown of a fault-injection run (bench/results/faults.md): one row of numbers per scenario. */
import type { CrashResult } from './crash.js';
import type { DiskResult } from './disk.js';
import type { EnrolKillResult } from './enrol.js';
import type { FlipResult } from './flip.js';
import type { SigtermResult } from './sigterm.js';
import type { SwapResult } from './swap.js';

/** One line of numbers per scenario. */
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
      return `${w.connections} connections, ${w.seconds} s: ${w.load.requests} requests, ${w.failed} failed, statuses ${j(w.load.statuses)}, errors ${j(w.load.errors)}, lost ${w.load.unanswered}; swapped to ${w.swappedTo.length} versions, served after ${j(w.swapLatencyMs)} ms`;
    }
    default: {
      const t = r as unknown as SigtermResult;
      return `${t.connections} connections: exit ${t.exitCode} after ${t.drainMs} ms; in flight at SIGTERM ${t.inFlightAtSignal}, completed 200 ${t.inFlightCompleted200}, failed ${j(t.inFlightFailed)}; started after: ${j(t.afterSignal)}`;
    }
  }
}

export function faultsMarkdown(results: Record<string, unknown>): string {
  const rows = Object.entries(results)
    .filter(([, v]) => typeof v === 'object' && v !== null)
    .map(([name, v]) => `| ${name} | ${(v as { pass: boolean }).pass ? 'pass' : '**FAIL**'} | ${(v as { wallSeconds: number }).wallSeconds} | ${summary(name, v as Record<string, unknown>)} |`);
  return [`# Fault injection (${String(results.date)}, Node ${String(results.node)})`, '', '| scenario | result | wall s | numbers |', '|---|---|---:|---|', ...rows, ''].join('\n');
}

