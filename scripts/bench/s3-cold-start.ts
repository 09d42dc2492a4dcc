/**
 * `npm run bench -- s3-cold-start`: cold start of a serving process whose index is in object
 * storage, against the same snapshot on local disk, in the same run. Each run spawns a fresh
 * process with an empty scratch space (TMPDIR), so the object-storage start downloads every file;
 * the clock runs from spawn to the answer of the first /v1/search. Download, verify and open are
 * reported separately (the store's own timings). Writes bench/results/s3-cold-start.{json,md}.
 *
 *   npm run bench -- s3-cold-start [--images 100000] [--runs 3] [--model DIR] [--work tmp/api-bench]
 *
 * The S3 server is test/s3-server (miniflare's local R2 over the S3 API, on loopback).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { parsePositiveInteger } from '../../src/cli/common.js';
import type { LoadTimings } from '../../src/index/local-store.js';
import { syntheticPng } from '../../test/fixtures/gallery.js';
import { freshPrefix } from '../../test/fixtures/s3.js';
import { median, table, writeResults } from './common.js';
import { REPO_ROOT, RESULTS_DIR, sectionContext, sectionHeader, suiteCommand, type SectionContext } from './context.js';
import { prepareModel } from './http/prepare.js';
import { KEY } from './http/types.js';
import { benchS3, publishToBucket, SYNTHETIC_PARAMS, syntheticSnapshots } from './s3-snapshots.js';

export type ColdStartSource = 'local disk' | 'object storage';

export interface ColdStartRun {
  source: ColdStartSource;
  /** Spawn to the first /v1/search answer, measured by this process. */
  totalMs: number;
  load: LoadTimings;
}

export interface S3ColdStartResult {
  context: SectionContext;
  model: string;
  images: number;
  dim: number;
  snapshotMiB: number;
  publishSeconds: number;
  runs: ColdStartRun[];
  /** Median object-storage cold start over median local-disk cold start. */
  ratio: number;
}

export interface S3ColdStartOptions {
  images: number;
  runs: number;
  work: string;
  model?: string;
  tiny?: boolean;
  /** An S3 server already running (tests); else one is started for the run. */
  s3?: { env: Record<string, string>; bucket: string };
  command?: string;
  log?: (line: string) => void;
}

const round = (x: number): number => Math.round(x * 10) / 10;

/** One cold start in a fresh process; resolves its timings. */
async function coldStart(source: ColdStartSource, env: Record<string, string>, query: Buffer): Promise<ColdStartRun> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/bench/s3-cold-start-child.ts')], { cwd: REPO_ROOT, stdio: 'pipe', env: { ...process.env, ...env } });
  child.stdin.end(query.toString('base64'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      const line = stdout.split('\n')[0];
      if (!stdout.includes('\n')) return;
      const totalMs = performance.now() - started;
      child.kill('SIGKILL');
      const out = JSON.parse(line) as { status: number; load: LoadTimings | null };
      if (out.status !== 200 || !out.load) reject(new Error(`${source}: first search answered ${out.status}: ${stderr}`));
      else resolve({ source, totalMs, load: out.load });
    });
    child.on('exit', (code) => {
      if (!stdout.includes('\n')) reject(new Error(`${source}: cold-start child exited with ${code}: ${stderr}`));
    });
  });
}

/**
 * @example
 * const r = await runS3ColdStartBench({ images: 100_000, runs: 3, work: 'tmp/api-bench' });
 */
export async function runS3ColdStartBench(o: S3ColdStartOptions): Promise<S3ColdStartResult> {
  const log = o.log ?? (() => {});
  const context = sectionContext(o.command ?? 'npm run bench -- s3-cold-start');
  await mkdir(o.work, { recursive: true });
  const s3 = await benchS3(o.s3);
  const scratch = await mkdtemp(join(o.work, 's3-cold-start-'));
  try {
    const model = await prepareModel(o);
    log(`synthetic snapshot of ${o.images} vectors`);
    const [snap] = await syntheticSnapshots(o.work, model.dir, o.images, 1);
    const root = freshPrefix(s3.bucket, 'cold-start');
    const index = `${root}/index`;
    log(`publishing ${snap.version} (${(snap.bytes / 2 ** 20).toFixed(1)} MiB) to ${index}`);
    const publishSeconds = await publishToBucket(snap.indexDir, snap.version, index);
    const localGallery = join(scratch, 'gallery');
    await mkdir(localGallery);
    const base = { MODEL_DIR: model.dir, EMBED_WORKERS: '0', API_KEYS: KEY, LOG_LEVEL: 'silent', WATCH_INDEX: 'false', RELOAD_POLL_MS: '0' };
    const vars: Record<ColdStartSource, Record<string, string>> = {
      'local disk': { ...base, INDEX_DIR: snap.indexDir, GALLERY_DIR: localGallery },
      'object storage': { ...base, INDEX_DIR: index, GALLERY_DIR: `${root}/gallery` },
    };
    const query = await syntheticPng(424_242);
    const runs: ColdStartRun[] = [];
    for (let i = 0; i < o.runs; i++) {
      for (const source of ['local disk', 'object storage'] as const) {
        // An empty scratch space each time: nothing downloaded before.
        const tmp = await mkdtemp(join(scratch, 'tmp-'));
        const run = await coldStart(source, { ...s3.env, ...vars[source], TMPDIR: tmp }, query);
        await rm(tmp, { recursive: true, force: true });
        runs.push(run);
        log(`${source}: ${Math.round(run.totalMs)} ms (${JSON.stringify(run.load)})`);
      }
    }
    const med = (source: ColdStartSource): number => median(runs.filter((r) => r.source === source).map((r) => r.totalMs));
    return {
      context,
      model: model.source,
      images: o.images,
      dim: snap.dim,
      snapshotMiB: round(snap.bytes / 2 ** 20),
      publishSeconds: round(publishSeconds),
      runs,
      ratio: Math.round((med('object storage') / med('local disk')) * 100) / 100,
    };
  } finally {
    await rm(scratch, { recursive: true, force: true });
    await s3.stop();
  }
}

export function s3ColdStartMarkdown(r: S3ColdStartResult): string {
  const rows = (['local disk', 'object storage'] as const).map((source) => {
    const runs = r.runs.filter((x) => x.source === source);
    const m = (f: (x: ColdStartRun) => number): number => Math.round(median(runs.map(f)));
    return {
      'index in': source,
      'spawn to first search, median ms': m((x) => x.totalMs),
      'runs ms': runs.map((x) => Math.round(x.totalMs)).join(', '),
      'download ms': source === 'local disk' ? '-' : m((x) => x.load.fetch?.downloadMs ?? 0),
      'verify (sha256) ms': source === 'local disk' ? '-' : m((x) => x.load.fetch?.verifyMs ?? 0),
      'open (checksums, manifest, graph) ms': m((x) => x.load.openMs),
      'catch-up ms': m((x) => x.load.catchUpMs),
    };
  });
  return [
    sectionHeader('s3-cold-start: a serving process started on an index in object storage vs on local disk', r.context),
    `Model: ${r.model}. Snapshot: ${r.images.toLocaleString('en-US')} synthetic clustered unit vectors at the model's dimension (${r.dim}; 10 per identity; HNSW M ${SYNTHETIC_PARAMS.M}, efConstruction ${SYNTHETIC_PARAMS.efConstruction}), ${r.snapshotMiB} MiB of files,`,
    `published with the index job's conditional publish in ${r.publishSeconds} s. Object storage: test/s3-server (miniflare's local R2 over the S3 API) on loopback.`,
    'Each run spawns a fresh process (EMBED_WORKERS=0) with an empty scratch space and times spawn to the answer of its first `POST /v1/search`;',
    'download, verify and open are the store\'s own timings (object storage verifies each file\'s sha256 as it arrives, then opening checks the snapshot\'s checksums as on disk).',
    '',
    table(rows),
    '',
    `Object storage / local disk (medians): **${r.ratio}x**.`,
    '',
  ].join('\n');
}

export function s3ColdStartBenchCommand(): Command {
  return new Command('s3-cold-start')
    .description('cold start with the index in object storage vs on local disk (same snapshot, same run)')
    .option('--images <n>', 'snapshot size (synthetic vectors)', parsePositiveInteger, 100_000)
    .option('--runs <n>', 'cold starts per source', parsePositiveInteger, 3)
    .option('--model <dir>', 'model directory (default models/sample, else a random conv4)')
    .option('--work <dir>', 'cache folder for the model and snapshots', join(REPO_ROOT, 'tmp', 'api-bench'))
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { images: number; runs: number; model?: string; work: string; out: string }) => {
      const result = await runS3ColdStartBench({ ...f, command: suiteCommand('s3-cold-start'), log: (l) => process.stderr.write(`${l}\n`) });
      const md = s3ColdStartMarkdown(result);
      await writeResults(f.out, 's3-cold-start', result, md);
      process.stdout.write(`${md}\n`);
    });
}
