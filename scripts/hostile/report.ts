/** The markdown of a hostile-input run (bench/results/hostile.md): the totals and the answers per group of cases. */
import type { MemorySample } from '../server/fixture.js';
import type { CaseResult } from './runner.js';

export interface HostileSummary {
  cases: number;
  asDocumented: number;
  fiveHundreds: number;
  requests: number;
  seconds: number;
  statuses: Record<string, number>;
  mismatches: number;
  memory: { before: MemorySample; after: MemorySample; peakRssMiB: number };
  results: CaseResult[];
}

export function hostileMarkdown(s: HostileSummary): string {
  const { before, after } = s.memory;
  const groups = [...new Set(s.results.map((r) => r.group))];
  const answer = (r: CaseResult): string => `${r.got.status} ${r.got.code ?? ''}`.trim();
  return [
    `# Hostile-input corpus (${s.cases} cases, then ${s.requests} requests cycling it)`,
    '',
    `As documented: ${s.asDocumented}/${s.cases}; 5xx: ${s.fiveHundreds}; mismatches over the ${s.requests}: ${s.mismatches}.`,
    `RSS ${before.rssMiB} -> ${after.rssMiB} MiB (peak ${s.memory.peakRssMiB}), heap after GC ${before.heapMiB} -> ${after.heapMiB} MiB, tensors ${before.tensors} -> ${after.tensors}.`,
    '',
    '| group | cases | answers |',
    '|---|---:|---|',
    ...groups.map((g) => {
      const rs = s.results.filter((r) => r.group === g);
      const answers = new Map<string, number>();
      for (const r of rs) answers.set(answer(r), (answers.get(answer(r)) ?? 0) + 1);
      return `| ${g} | ${rs.length} | ${[...answers].map(([a, n]) => `${a} x${n}`).join(', ')} |`;
    }),
    '',
  ].join('\n');
}
