/**
 * Before/after table from alternating runs of the HTTP benchmark (`npm run bench -- http`): reads
 * `<dir>/before-N.json` and `<dir>/after-N.json` and prints each run plus the median of each side,
 * so the note's table is regenerated from the files that produced it.
 *
 * @example
 * npx tsx scripts/research/ab-table.ts docs/research/2026-12-refactor-ab
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Row { side: string; run: string; rps: number; p50: number; p99: number; coldAdapter: number; coldLambda: number; load: number }

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function readRow(dir: string, file: string): Row {
  const { result } = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const server = result.servers[0];
  const run = server.runs[0];
  const [side, n] = file.replace('.json', '').split('-');
  return {
    side,
    run: n,
    rps: run.rps,
    p50: run.p50,
    p99: run.p99,
    coldAdapter: median(server.coldStartMs),
    coldLambda: median(result.lambdaColdStartMs[0].ms),
    load: result.machine.loadavg[0],
  };
}

const dir = process.argv[2] ?? 'docs/research/2026-12-refactor-ab';
const rows = readdirSync(dir).filter((f) => /^(before|after)-\d+\.json$/.test(f)).map((f) => readRow(dir, f)).sort((a, b) => b.side.localeCompare(a.side) || a.run.localeCompare(b.run));
const cells = (r: Omit<Row, 'side' | 'run' | 'load'>): string => `${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${Math.round(r.coldAdapter)} | ${Math.round(r.coldLambda)}`;
const lines = ['| side | run | req/s | p50 ms | p99 ms | cold start, adapter ms | cold start, Lambda handler ms | load (1 min) |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
for (const r of rows) lines.push(`| ${r.side} | ${r.run} | ${cells(r)} | ${r.load} |`);
const medians: Record<string, Omit<Row, 'side' | 'run' | 'load'>> = {};
for (const side of ['before', 'after']) {
  const own = rows.filter((r) => r.side === side);
  medians[side] = { rps: median(own.map((r) => r.rps)), p50: median(own.map((r) => r.p50)), p99: median(own.map((r) => r.p99)), coldAdapter: median(own.map((r) => r.coldAdapter)), coldLambda: median(own.map((r) => r.coldLambda)) };
  lines.push(`| **${side}, median** | | ${cells(medians[side])} | |`);
}
const ratio = (k: keyof (typeof medians)['before']): string => (medians.after[k] / medians.before[k]).toFixed(2);
lines.push(`| **after / before** | | ${ratio('rps')} | ${ratio('p50')} | ${ratio('p99')} | ${ratio('coldAdapter')} | ${ratio('coldLambda')} | |`);
console.log(lines.join('\n'));
