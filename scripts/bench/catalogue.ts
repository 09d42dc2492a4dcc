/**
 * Every benchmark whose results live in bench/results/: what it measures, the command that runs it,
 * and its headline number, read from its stored JSON (pure functions, no runs).
 */
import { embeddingLabel, median } from './common.js';
import { n0 } from './results.js';

export interface Benchmark {
  /** bench/results/<name>.{json,md} */
  name: string;
  what: string;
  command: string;
  /** The one number a reader looks for first, from the stored result; null when the result has none. */
  headline?: (result: never) => string | null;
}

interface EmbedJson { measured: { backend: string; peakGflops: number; rows: { batch: number; imagesPerSecond: number; gflops: number }[] }[] }
interface AnnJson { k: number; datasets: { name: string; count: number }[]; defaults: { M: number; ef: number; perDataset: { dataset: string; recall: number; qps: number }[] } }
interface HttpJson { servers: { workers: number; runs: { route?: string; query?: string; connections: number; rps: number; p50: number; p99: number }[] }[] }
interface ColdstartJson { rows: { images: number; workers: number; adapterMs: number[]; lambdaMs: number[] }[] }
interface ReindexJson { images: number; ratio: number; full: { seconds: number }; changed: { seconds: number; added: number; changed: number; removed: number } }
interface TrainJson { rows: { backend: string; workers: number; pairsPerSecond: number }[] }
interface HostileJson { cases: number; asDocumented: number; fiveHundreds: number; requests: number; mismatches: number }
interface FaultsJson { [scenario: string]: unknown }
interface CrashJson { kills: number; records: { finishedFirst: boolean }[]; allVerified: boolean; allCompleted: boolean }
interface FacesJson { oneConnection: { ratio: number }; eightConnections: { ratio: number; workers: number }; index: { facesPerSecond: number } }
interface OpenSetJson { known: { probes: number; rate: number }; strangers: { probes: number; rate: number } }
interface RecallRow { M: number; ef: number; recall: number; qps: number }
interface IndexRecallJson { count: number; k: number; exact: { qps: number }; rows: RecallRow[] }
interface IndexSyntheticJson { count: number; dim: number; M: number; exact: { qps: number }; rows: { ef: number; recall: number; qps: number }[] }

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function embedHeadline(r: EmbedJson): string | null {
  if (!r.measured.length) return null;
  return r.measured.map((m) => {
    const best = m.rows.reduce((a, b) => (b.gflops > a.gflops ? b : a));
    return `${m.backend}: ${n0(best.imagesPerSecond)} images/s at batch ${best.batch}, ${(m.peakGflops / best.gflops).toFixed(1)}x below its matmul peak`;
  }).join('; ');
}

function facesHeadline(r: FacesJson): string {
  return `/v1/search at 1 connection ${r.oneConnection.ratio.toFixed(2)}x the bare face path; at 8 connections ${pct(r.eightConnections.ratio)} of ${r.eightConnections.workers} workers fed directly; index ${r.index.facesPerSecond.toFixed(1)} faces/s`;
}

function openSetHeadline(r: OpenSetJson): string {
  return `${pct(r.known.rate)} of ${n0(r.known.probes)} known probes matched to the right person, ${pct(r.strangers.rate)} of ${n0(r.strangers.probes)} strangers matched to anyone`;
}

function annHeadline(r: AnnJson): string | null {
  const d = r.defaults;
  if (!d.perDataset.length) return null;
  const size = (name: string): string => n0(r.datasets.find((x) => x.name === name)?.count ?? 0);
  return `defaults (M ${d.M}, ef ${d.ef}), recall@${r.k} / queries/s: ${d.perDataset.map((p) => `${p.dataset} (${size(p.dataset)}) ${p.recall.toFixed(4)} / ${n0(p.qps)}`).join('; ')}`;
}

function httpHeadline(r: HttpJson): string | null {
  const runs = r.servers.flatMap((s) => s.runs.filter((x) => x.connections === 16 && (x.route ?? 'search') === 'search' && (x.query ?? 'png28') === 'png28').map((x) => ({ ...x, workers: s.workers })));
  if (!runs.length) return null;
  const best = runs.reduce((a, b) => (b.p50 < a.p50 || (b.p50 === a.p50 && b.p99 < a.p99) ? b : a));
  return `/v1/search, 16 connections, 28x28 PNG, ${embeddingLabel(best.workers)}: p50 ${best.p50} ms, p99 ${best.p99} ms, ${n0(best.rps)} req/s`;
}

function coldstartHeadline(r: ColdstartJson): string | null {
  const first = r.rows[0];
  if (!first) return null;
  return `${n0(first.images)} images, ${embeddingLabel(first.workers)}: \`npm run dev\` ${n0(median(first.adapterMs))} ms, Lambda ${n0(median(first.lambdaMs))} ms (medians)`;
}

function reindexHeadline(r: ReindexJson): string {
  const changes = r.changed.added + r.changed.changed + r.changed.removed;
  return `${n0(changes)} of ${n0(r.images)} images changed: re-index in ${pct(r.ratio)} of the full build time (${r.changed.seconds.toFixed(2)} s vs ${r.full.seconds.toFixed(2)} s)`;
}

function trainHeadline(r: TrainJson): string | null {
  if (!r.rows.length) return null;
  return r.rows.map((x) => `${x.backend}${x.workers ? ` + ${x.workers} workers` : ''} ${x.pairsPerSecond >= 10 ? n0(x.pairsPerSecond) : x.pairsPerSecond.toFixed(2)} pairs/s`).join(', ');
}

function hostileHeadline(r: HostileJson): string {
  return `${r.asDocumented}/${r.cases} cases answered as documented, ${r.fiveHundreds} 5xx; ${n0(r.requests)} more requests: ${r.mismatches} mismatches`;
}

function faultsHeadline(r: FaultsJson): string | null {
  const scenarios = Object.entries(r).filter((e): e is [string, { pass: boolean }] => typeof e[1] === 'object' && e[1] !== null && 'pass' in e[1]);
  if (!scenarios.length) return null;
  const failed = scenarios.filter(([, s]) => !s.pass).map(([name]) => name);
  return `${scenarios.length - failed.length}/${scenarios.length} scenarios pass${failed.length ? ` (failed: ${failed.join(', ')})` : ''}`;
}

function crashHeadline(r: CrashJson): string {
  const mid = r.records.filter((x) => !x.finishedFirst).length;
  return `${r.kills} SIGKILLs (${mid} mid-run): CURRENT verified after every kill: ${r.allVerified ? 'yes' : '**no**'}; next run completed every time: ${r.allCompleted ? 'yes' : '**no**'}`;
}

function indexRecallHeadline(r: IndexRecallJson): string | null {
  const row = r.rows.find((x) => x.M === 16 && x.ef === 100) ?? r.rows.at(-1);
  if (!row) return null;
  return `${n0(r.count)} vectors, M ${row.M}, ef ${row.ef}: recall@${r.k} ${row.recall.toFixed(4)} at ${n0(row.qps)} q/s (${n0(row.qps / r.exact.qps)}x the exact scan)`;
}

function indexSyntheticHeadline(r: IndexSyntheticJson): string | null {
  const row = r.rows.find((x) => x.recall >= 0.99) ?? r.rows.at(-1);
  if (!row) return null;
  return `${n0(r.count)} ${r.dim}-d vectors, M ${r.M}, ef ${row.ef}: recall@10 ${row.recall.toFixed(4)} at ${n0(row.qps)} q/s (${n0(row.qps / r.exact.qps)}x the exact scan)`;
}

interface S3ColdStartJson { images: number; ratio: number; runs: { source: string; totalMs: number }[] }
interface S3PublishJson { images: number; instances: { connections: number; requests: number; failed: number; pickUpMs: number | null }[] }

function s3ColdStartHeadline(r: S3ColdStartJson): string {
  const med = (source: string) => median(r.runs.filter((x) => x.source === source).map((x) => x.totalMs));
  return `${n0(r.images)}-image snapshot: ${n0(med('object storage'))} ms from object storage vs ${n0(med('local disk'))} ms from local disk (${r.ratio}x)`;
}

function s3PublishHeadline(r: S3PublishJson): string {
  const failed = r.instances.reduce((n, x) => n + x.failed, 0);
  const requests = r.instances.reduce((n, x) => n + x.requests, 0);
  return `${r.instances.length} instances x ${r.instances[0]?.connections ?? 0} connections: ${failed} failed of ${n0(requests)} requests; new snapshot served after ${r.instances.map((x) => (x.pickUpMs === null ? 'never' : `${n0(x.pickUpMs)} ms`)).join(' / ')}`;
}

/** In the order of the index page: the suite, then robustness, then the index's own runs. */
export const BENCHMARKS: Benchmark[] = [
  { name: 'embed', what: 'tower images/s per backend and batch size; GFLOP/s vs a matmul peak on the same backend', command: 'npm run bench -- embed', headline: embedHeadline },
  { name: 'ann', what: 'build time, memory, queries/s and recall@10 across ef: hnswlib-node (twinsearch) vs usearch vs exact scan', command: 'npm run bench -- ann', headline: annHeadline },
  { name: 'http', what: 'requests/s, latency percentiles and errors of POST /v1/search and /v1/verify at 1/16/64 connections; where a request\'s time goes', command: 'npm run bench -- http', headline: httpHeadline },
  { name: 'coldstart', what: 'process start to the first 200 from /v1/search (`npm run dev` and the Lambda handler), per gallery size', command: 'npm run bench -- coldstart', headline: coldstartHeadline },
  { name: 'reindex', what: 'full build vs re-index after 1% of the gallery changed', command: 'npm run bench -- reindex', headline: reindexHeadline },
  { name: 'train', what: 'training pairs/s per backend and worker count', command: 'npm run bench -- train', headline: trainHeadline },
  { name: 'index-recall', what: 'HNSW recall@10 and queries/s vs the exact scan on Fashion-MNIST embeddings, across M and ef', command: 'npm run bench -- index-recall', headline: indexRecallHeadline },
  { name: 'index-synthetic', what: 'a large synthetic HNSW index: build time, memory, recall@10 and queries/s', command: 'npm run bench -- index-synthetic', headline: indexSyntheticHeadline },
  { name: 'faces', what: "a face model: the query path stage by stage, /v1/search against the bare face path (1 connection) and against the same workers fed directly (8 connections), index faces/s", command: 'npm run bench -- faces', headline: facesHeadline },
  { name: 'open-set', what: "a face gallery served: known people matched and strangers refused through /v1/search at the server's own threshold", command: 'npm run bench -- open-set', headline: openSetHeadline },
  { name: 'hostile', what: 'the hostile-input corpus against a real server: documented answers, no 5xx, memory and tensors after 1,000 more', command: 'npm run hostile', headline: hostileHeadline },
  { name: 'faults', what: 'fault injection: killed re-index, lost enrolments, a flipped byte, a full disk, hot swaps and SIGTERM under load', command: 'npm run faults', headline: faultsHeadline },
  { name: 'index-crash', what: 'SIGKILL of the re-index at random moments: CURRENT verifies after every kill', command: 'npx tsx scripts/faults/crash.ts', headline: crashHeadline },
  { name: 's3-cold-start', what: 'cold start to the first /v1/search with the index in object storage vs on local disk (same snapshot, same run): download, verify, open', command: 'npm run bench -- s3-cold-start', headline: s3ColdStartHeadline },
  { name: 's3-publish', what: 'two serving instances under /v1/search load while a snapshot is published to object storage: failed requests, time to serve it', command: 'npm run bench -- s3-publish', headline: s3PublishHeadline },
];
