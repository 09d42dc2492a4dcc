/**
 * docs/benchmarks.md is assembled from sections: every benchmark writes bench/results/<name>.json
 * and <name>.md (its section, headed by the machine, the package versions and the exact command),
 * and `assembleBenchmarksDoc` strings the sections that exist together in a fixed order. A section
 * whose benchmark has not run yet is listed with its command, so the page never shows stale
 * numbers under a new heading.
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../src/util/atomic.js';
import { embeddingLabel, machine, QUERY_LABEL, type QueryKind } from './bench-common.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
export const BENCHMARKS_DOC = join(REPO_ROOT, 'docs', 'benchmarks.md');

/** Packages whose version decides the numbers. */
const MEASURED_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node', 'hnswlib-node', 'usearch', 'hono', '@hono/node-server', 'sharp'] as const;

/**
 * Installed versions of the packages that matter for speed (`absent` when not installed), and Node's.
 *
 * @example
 * versions(); // { node: 'v20.20.0', 'hnswlib-node': '3.0.0', usearch: '2.25.3', ... }
 */
export function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const name of MEASURED_PACKAGES) {
    try {
      // Read the file: several packages do not export their package.json.
      out[name] = (JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      out[name] = 'absent';
    }
  }
  return out;
}

/** `name version, name version` for a markdown line. */
export function formatVersions(v: Record<string, string>): string {
  return Object.entries(v).map(([name, version]) => `${name} ${version}`).join(', ');
}

/** What every section opens with: when, on what, with which versions, by which command. */
export interface SectionContext {
  measuredAt: string;
  machine: ReturnType<typeof machine>;
  versions: Record<string, string>;
  command: string;
}

/** The context of a run starting now. */
export function sectionContext(command: string): SectionContext {
  return { measuredAt: new Date().toISOString(), machine: machine(), versions: versions(), command };
}

/**
 * The header lines of a section.
 *
 * @example
 * sectionHeader('Embedding throughput', sectionContext('npm run bench -- embed'));
 */
export function sectionHeader(title: string, c: SectionContext): string {
  const m = c.machine;
  return [
    `## ${title}`,
    '',
    `Measured ${c.measuredAt.slice(0, 16)}Z on ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, load average ${m.loadavg.join(' / ')} at the start (a shared machine).`,
    `Versions: ${formatVersions(c.versions)}.`,
    '',
    `Command: \`${c.command}\``,
    '',
  ].join('\n');
}

/** One section of docs/benchmarks.md: the result files that can fill it (first found wins) and how to produce them. */
export interface SectionSource {
  title: string;
  files: string[];
  command: string;
}

/** The sections of docs/benchmarks.md, in order. */
export const SECTIONS: SectionSource[] = [
  { title: 'embed: tower throughput vs the matmul peak', files: ['embed'], command: 'npm run bench -- embed' },
  { title: 'ann: hnswlib-node vs usearch vs exact scan', files: ['ann'], command: 'npm run bench -- ann' },
  { title: 'http: POST /v1/search and /v1/verify under load', files: ['api-bench'], command: 'npm run bench -- http' },
  { title: 'coldstart: process start to the first 200', files: ['coldstart'], command: 'npm run bench -- coldstart' },
  { title: 'reindex: full build vs 1% changed', files: ['reindex', 'index-reindex'], command: 'npm run bench -- reindex' },
  { title: 'train: training throughput', files: ['train'], command: 'npm run bench -- train' },
  { title: "faces: the face model's query path, throughput and index building", files: ['faces'], command: 'npm run bench -- faces' },
  { title: 'open-set: match or unknown at the server\'s own threshold', files: ['open-set'], command: 'npm run bench -- open-set' },
];

/** Pushes every markdown heading of a section one level down (a section's `#` becomes `###`, under the doc's `##`). */
export function demoteHeadings(markdown: string, levels = 2): string {
  let inFence = false;
  return markdown
    .split('\n')
    .map((line) => {
      if (line.startsWith('```')) inFence = !inFence;
      return !inFence && /^#{1,4} /.test(line) ? `${'#'.repeat(levels)}${line}` : line;
    })
    .join('\n');
}

async function readIfExists(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

async function readResult<T>(resultsDir: string, name: string): Promise<T | null> {
  const text = await readIfExists(join(resultsDir, `${name}.json`));
  return text ? (JSON.parse(text) as { result: T }).result : null;
}

/** One of the issue's targets, checked against the stored results. */
export interface TargetCheck {
  target: string;
  measured: string;
  /** null: the benchmark has not run (or did not cover the case). */
  met: boolean | null;
}

interface EmbedJson { measured: { backend: string; peakGflops: number; rows: { batch: number; gflops: number }[] }[] }
interface AnnPoint { ef: number; recall: number; qps: number }
interface AnnJson { datasets: { name: string; count: number; exact: { qps: number }; engines: { engine: string; M: number; rows: AnnPoint[] }[] }[]; defaults: { M: number; ef: number } }
interface HttpJson { servers: { workers: number; runs: { route?: string; query?: string; connections: number; p50: number; p99: number; errors: number; non2xx: number }[] }[] }

/**
 * The issue's speed targets, checked against whatever results are stored (pure reading, no runs).
 *
 * @example
 * const checks = await checkTargets('bench/results'); // [{ target: '/search p50 <= 10 ms ...', measured: '...', met: true }, ...]
 */
export async function checkTargets(resultsDir = RESULTS_DIR): Promise<TargetCheck[]> {
  const checks: TargetCheck[] = [];
  const f2 = (x: number): string => x.toFixed(2);
  const n0 = (x: number): string => Math.round(x).toLocaleString('en-US');

  const http = await readResult<HttpJson>(resultsDir, 'api-bench');
  // Judged on the 28x28 PNG queries (the workload the target was set for); photo-sized JPEG rows are listed beside them.
  const at16 = http?.servers.flatMap((s) => s.runs.filter((r) => r.connections === 16 && (r.route ?? 'search') === 'search').map((r) => ({ ...r, query: r.query ?? 'png28', workers: s.workers }))) ?? [];
  const judged = at16.filter((r) => r.query === 'png28');
  const label = (r: (typeof at16)[number]): string => `${embeddingLabel(r.workers)}, ${QUERY_LABEL[r.query as QueryKind] ?? r.query}`;
  checks.push({
    target: '/search p50 <= 10 ms and p99 <= 30 ms at 16 connections, zero errors (28x28 PNG queries)',
    measured: at16.length ? at16.map((r) => `${label(r)}: p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors + r.non2xx} errors`).join('; ') : 'not run',
    met: judged.length ? judged.some((r) => r.p50 <= 10 && r.p99 <= 30 && r.errors + r.non2xx === 0) : null,
  });

  const ann = await readResult<AnnJson>(resultsDir, 'ann');
  const big = ann?.datasets.find((d) => d.name === 'synthetic');
  const bigPoints = big?.engines.filter((e) => e.engine === 'hnswlib').flatMap((e) => e.rows.map((p) => ({ ...p, M: e.M }))) ?? [];
  const good = bigPoints.filter((p) => p.recall >= 0.99 && big && p.qps >= 20 * big.exact.qps);
  const bestBig = good.length ? good.reduce((a, b) => (b.qps > a.qps ? b : a)) : null;
  checks.push({
    target: 'HNSW recall@10 >= 0.99 at >= 20x the exact scan\'s queries/s on 1M vectors',
    measured: big
      ? bestBig
        ? `${big.count.toLocaleString('en-US')} vectors: M ${bestBig.M}, ef ${bestBig.ef}: recall ${bestBig.recall.toFixed(4)} at ${n0(bestBig.qps)} q/s = ${n0(bestBig.qps / big.exact.qps)}x the exact scan (${n0(big.exact.qps)} q/s)`
        : `${big.count.toLocaleString('en-US')} vectors: no measured ef reached both`
      : 'not run',
    met: big ? bestBig !== null && big.count >= 1_000_000 : null,
  });

  // At twinsearch's defaults, compare with usearch's fastest point of at least the same recall.
  const gaps: string[] = [];
  let allFast: boolean | null = null;
  for (const d of ann?.datasets ?? []) {
    const ours = d.engines.find((e) => e.engine === 'hnswlib' && e.M === ann?.defaults.M)?.rows.find((p) => p.ef === ann?.defaults.ef);
    const peers = d.engines.filter((e) => e.engine === 'usearch').flatMap((e) => e.rows).filter((p) => ours && p.recall >= ours.recall);
    if (!ours || peers.length === 0) continue;
    const peer = peers.reduce((a, b) => (b.qps > a.qps ? b : a));
    gaps.push(`${d.name}: ${n0(ours.qps)} vs ${n0(peer.qps)} q/s (usearch ef ${peer.ef}, recall ${peer.recall.toFixed(4)} >= ${ours.recall.toFixed(4)})`);
    allFast = (allFast ?? true) && ours.qps >= peer.qps;
  }
  checks.push({
    target: 'twinsearch\'s ANN defaults no slower than usearch at equal (or higher) recall',
    measured: gaps.length ? `hnswlib at the defaults vs usearch: ${gaps.join('; ')}` : 'not run',
    met: allFast,
  });

  const embed = await readResult<EmbedJson>(resultsDir, 'embed');
  const perBackend = embed?.measured.map((m) => {
    const best = m.rows.reduce((a, b) => (b.gflops > a.gflops ? b : a));
    return { backend: m.backend, ratio: m.peakGflops / best.gflops, best };
  }) ?? [];
  checks.push({
    target: 'embed throughput within 3x of the matmul-peak bound',
    measured: perBackend.length ? perBackend.map((b) => `${b.backend}: ${f2(b.best.gflops)} GFLOP/s at batch ${b.best.batch}, peak / achieved ${b.ratio.toFixed(1)}x`).join('; ') : 'not run',
    met: perBackend.length ? perBackend.every((b) => b.ratio <= 3) : null,
  });

  const openSet = await readResult<{ known: { rate: number; probes: number }; strangers: { rate: number; probes: number }; threshold: { value: number } }>(resultsDir, 'open-set');
  checks.push({
    target: 'open set through /v1/search at the server\'s threshold: >= 97% of known photos matched right, <= 1% of strangers matched',
    measured: openSet ? `${(openSet.known.rate * 100).toFixed(1)}% of ${openSet.known.probes} known, ${(openSet.strangers.rate * 100).toFixed(1)}% of ${openSet.strangers.probes} strangers at ${openSet.threshold.value.toFixed(4)}` : 'not run',
    met: openSet ? openSet.known.rate >= 0.97 && openSet.strangers.rate <= 0.01 : null,
  });
  return checks;
}

/**
 * Writes docs/benchmarks.md from the sections found in `resultsDir`. Sections written by this
 * suite start with their own `## ` header; older result files (written before the suite had one)
 * get a header built from their JSON (machine and time) and the section's command.
 *
 * @example
 * await assembleBenchmarksDoc(); // bench/results/*.md → docs/benchmarks.md
 */
export async function assembleBenchmarksDoc(resultsDir = RESULTS_DIR, docPath = BENCHMARKS_DOC): Promise<string> {
  const parts: string[] = [
    '# Benchmarks',
    '',
    'Every number here comes from `npm run bench -- <name>` on the machine named in its section; each run writes',
    '`bench/results/<name>.json` (all measurements, the machine and the time) and its section below, and this page is',
    're-assembled from those sections after every run. The machine is a shared 2-core VM, so other work ran at the same',
    'time: the load average is given with each run, and speeds are lower bounds. Peers are measured in the same run as',
    'twinsearch, on the same vectors or images.',
    '',
    '| benchmark | what it measures | command |',
    '|---|---|---|',
    '| embed | tower images/s per backend and batch size; GFLOP/s vs a matmul peak on the same backend | `npm run bench -- embed` |',
    '| ann | build time, memory, queries/s and recall@10 across ef: hnswlib-node (twinsearch) vs usearch vs exact scan | `npm run bench -- ann` |',
    '| http | requests/s, p50/p97.5/p99, errors on POST /v1/search at 1/16/64 connections; per-request time split | `npm run bench -- http` |',
    '| coldstart | process start to the first 200 from /v1/search, 10k (and 100k) galleries | `npm run bench -- coldstart` |',
    '| reindex | full build vs re-index after 1% changed | `npm run bench -- reindex` |',
    '| train | training pairs/s per backend and worker count | `npm run bench -- train` |',
    '| faces | a face model: query stage split, /v1/search vs the bare face path, throughput vs direct workers, index faces/s | `npm run bench -- faces` |',
    '| open-set | faces preset served: known photos matched to the right person, strangers matched to anyone, at the server\'s own threshold | `npm run bench -- open-set` |',
    '',
  ];
  parts.push(
    '## Targets',
    '',
    'The issue\'s targets for this 2-core machine, checked against the results stored below (re-checked at every assembly).',
    '',
    '| target | measured | met |',
    '|---|---|---|',
    ...(await checkTargets(resultsDir)).map((c) => `| ${c.target} | ${c.measured} | ${c.met === null ? 'not measured' : c.met ? 'yes' : '**no**'} |`),
    '',
  );
  const analysis = await readIfExists(join(resultsDir, 'analysis.md'));
  if (analysis) parts.push(analysis.trimEnd(), '');
  const docDir = resolve(docPath, '..');
  for (const section of SECTIONS) {
    let found = false;
    for (const name of section.files) {
      const md = await readIfExists(join(resultsDir, `${name}.md`));
      if (md === null) continue;
      found = true;
      if (md.startsWith('## ')) {
        parts.push(md.trimEnd(), '');
      } else {
        const json = await readIfExists(join(resultsDir, `${name}.json`));
        const meta = json ? (JSON.parse(json) as { measuredAt?: string; machine?: ReturnType<typeof machine> }) : {};
        const m = meta.machine;
        parts.push(
          `## ${section.title}`,
          '',
          m ? `Stored ${meta.measuredAt?.slice(0, 16) ?? '?'}Z on ${m.cpu}, ${m.cores} cores (load average ${m.loadavg.join(' / ')} when the results were written); package versions as pinned in package-lock.json (${formatVersions(versions())}).` : '',
          `Suite command: \`${section.command}\`; the exact command of the run stored here is in its text below. Files: \`${relative(docDir, join(resultsDir, `${name}.json`))}\`.`,
          '',
          demoteHeadings(md).trimEnd(),
          '',
        );
      }
      break;
    }
    if (!found) parts.push(`## ${section.title}`, '', `Not run yet: \`${section.command}\`.`, '');
  }
  const text = `${parts.join('\n').trimEnd()}\n`;
  await writeFileAtomic(docPath, text);
  return text;
}
