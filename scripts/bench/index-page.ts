/**
 * docs/benchmarks.md: an index of the stored results, not a copy of them. Each benchmark's tables
 * live in bench/results/<name>.md only; the page gives one row per benchmark (what it measures,
 * its headline number, when it ran, the command, a link) and the speed targets checked against the
 * stored JSON. Written from the files alone: assembling it never runs a benchmark.
 */
import { readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { BENCHMARKS, type Benchmark } from './catalogue.js';
import { REPO_ROOT, RESULTS_DIR } from './context.js';
import { readStored, readText } from './results.js';
import { checkTargets } from './targets.js';

export const BENCHMARKS_DOC = join(REPO_ROOT, 'docs', 'benchmarks.md');

/** A markdown table cell: no line breaks, no column separators. */
const cell = (text: string): string => text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

/** The first heading of a markdown file, without its hashes and the benchmark's own `name:` prefix. */
function title(markdown: string): string {
  return /^#{1,3} (.+)$/m.exec(markdown)?.[1].replace(/^[\w-]+: /, '') ?? '';
}

const tableRow = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;

/** One row: a catalogued benchmark (run or not) or a results file the catalogue does not know. */
async function row(resultsDir: string, docDir: string, b: Benchmark | { name: string }): Promise<string | null> {
  const md = await readText(join(resultsDir, `${b.name}.md`));
  const known = 'command' in b;
  const command = known ? `\`${b.command}\`` : '';
  if (md === null) return known ? tableRow([b.name, b.what, 'not run yet', '', command, '']) : null;
  const stored = await readStored<unknown>(resultsDir, b.name);
  const headline = known && b.headline && stored ? b.headline(stored.result as never) : null;
  const link = `[${b.name}.md](${relative(docDir, join(resultsDir, `${b.name}.md`))})`;
  return tableRow([b.name, known ? b.what : title(md), headline ?? '—', stored?.measuredAt?.slice(0, 10) ?? '', command, link]);
}

/**
 * Writes the index page from the results in `resultsDir` and returns its text.
 *
 * @example
 * await assembleBenchmarksDoc(); // bench/results/*.{json,md} → docs/benchmarks.md
 */
export async function assembleBenchmarksDoc(resultsDir = RESULTS_DIR, docPath = BENCHMARKS_DOC): Promise<string> {
  const docDir = resolve(docPath, '..');
  const catalogued = new Set(BENCHMARKS.map((b) => b.name));
  const others = (await readdir(resultsDir).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.md') && f !== 'analysis.md' && !catalogued.has(f.slice(0, -3)))
    .sort()
    .map((f) => ({ name: f.slice(0, -3) }));
  const rows = (await Promise.all([...BENCHMARKS, ...others].map((b) => row(resultsDir, docDir, b)))).filter((r) => r !== null);
  const checks = await checkTargets(resultsDir);
  const analysis = await readText(join(resultsDir, 'analysis.md'));
  const parts = [
    '# Benchmarks',
    '',
    'Each benchmark writes `bench/results/<name>.json` (every measurement, the machine and the time) and',
    '`bench/results/<name>.md` (its tables, with the machine, the package versions and the exact command): the tables',
    'live there. This page lists them with their headline numbers; every suite run rewrites it, and',
    '`npm run bench -- docs` rewrites it from the stored files without running anything. The machine is a shared 2-core',
    'VM: each results file gives the load average at the time, and speeds are lower bounds.',
    '',
    '| benchmark | what it measures | headline | measured | command | results |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    '## Speed targets',
    '',
    'For this 2-core machine, checked against the stored results each time this page is written.',
    '',
    '| target | benchmark | measured | met |',
    '|---|---|---|---|',
    ...checks.map((c) => tableRow([c.target, c.benchmark, c.measured, c.met === null ? 'not measured' : c.met ? 'yes' : '**no**'])),
    '',
    ...(analysis ? [`What the numbers mean, benchmark by benchmark: [bench/results/analysis.md](${relative(docDir, join(resultsDir, 'analysis.md'))}).`, ''] : []),
  ];
  const text = `${parts.join('\n').trimEnd()}\n`;
  await writeFileAtomic(docPath, text);
  return text;
}
