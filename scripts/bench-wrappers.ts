/**
 * Thin suite commands over benchmarks that already exist elsewhere:
 * - `coldstart`: process start to the first 200 from /v1/search (scripts/api-bench.ts's server and
 *   Lambda cold starts), for several gallery sizes;
 * - `reindex`: full build vs re-index after 1% changed (scripts/index-bench-reindex.ts).
 *
 *   npm run bench -- coldstart [--images 10000,100000] [--workers 0,2] [--cold-starts 3]
 *   npm run bench -- reindex [--images 10000] [--change 0.01] [--workers 2]
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { KEY, lambdaColdStart, prepareApiBench, startServer, stopServer } from './api-bench.js';
import { embeddingLabel, table, writeResults } from './bench-common.js';
import { demoteHeadings, REPO_ROOT, RESULTS_DIR, sectionContext, sectionHeader, type SectionContext } from './bench-report.js';
import { reindexMarkdown, runReindexBench, type ReindexBenchResult } from './index-bench-reindex.js';

export interface ColdstartOptions {
  images: number[];
  workers: number[];
  coldStarts: number;
  work: string;
  model?: string;
  /** Tiny synthetic gallery and model (smoke test). */
  tiny?: boolean;
  command?: string;
  log?: (line: string) => void;
}

export interface ColdstartRow {
  images: number;
  workers: number;
  modelId: string;
  indexVersion: string;
  /** `npm run dev`'s adapter: spawn → first 200 from /v1/search, ms per run. */
  adapterMs: number[];
  /** functions/lambda.ts in a fresh process: spawn → first 200 answer, ms per run. */
  lambdaMs: number[];
}

export interface ColdstartResult {
  context: SectionContext;
  model: string;
  rows: ColdstartRow[];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;

/**
 * @example
 * const r = await runColdstartBench({ images: [10_000, 100_000], workers: [0, 2], coldStarts: 3, work: 'tmp/api-bench' });
 */
export async function runColdstartBench(o: ColdstartOptions): Promise<ColdstartResult> {
  const log = o.log ?? (() => {});
  const context = sectionContext(o.command ?? 'npm run bench -- coldstart');
  const rows: ColdstartRow[] = [];
  let model = '';
  for (const images of o.images) {
    const p = await prepareApiBench({ images, duration: 0, connections: [], workers: o.workers, coldStarts: o.coldStarts, work: o.work, model: o.model, tiny: o.tiny, log });
    model = p.model.source;
    for (const workers of o.workers) {
      const adapterMs: number[] = [];
      const lambdaMs: number[] = [];
      for (let i = 0; i < o.coldStarts; i++) {
        const started = await startServer(p.config, workers, p.queries.png28[0]);
        adapterMs.push(Math.round(started.coldStartMs));
        await stopServer(started.child);
        lambdaMs.push(Math.round(await lambdaColdStart({ ...p.vars, EMBED_WORKERS: String(workers), API_KEYS: KEY, LOG_LEVEL: 'silent' }, p.queries.png28[0])));
        log(`${images} images, workers ${workers}: adapter ${adapterMs.at(-1)} ms, lambda ${lambdaMs.at(-1)} ms`);
      }
      rows.push({ images, workers, modelId: p.card.modelId, indexVersion: p.index.version, adapterMs, lambdaMs });
    }
  }
  return { context, model, rows };
}

export function coldstartMarkdown(r: ColdstartResult): string {
  return [
    sectionHeader('coldstart: process start to the first 200', r.context),
    `Model: ${r.model}. Gallery of Fashion-MNIST 28x28 PNGs (10 per identity; past its 70,000 images, mirrored copies), index built beforehand (not timed). Each run spawns a fresh process and polls`,
    '`POST /v1/search` every 10 ms until the first 200: the `npm run dev` adapter (wrangler config read, model load, index verify + load, embedding',
    'workers started) and the AWS Lambda handler (functions/lambda.ts answering one event). Median of the runs.',
    '',
    table(r.rows.map((x) => ({
      'gallery images': x.images.toLocaleString('en-US'),
      embedding: embeddingLabel(x.workers),
      'adapter median ms': median(x.adapterMs),
      'adapter runs ms': x.adapterMs.join(', '),
      'Lambda median ms': median(x.lambdaMs),
      'Lambda runs ms': x.lambdaMs.join(', '),
    }))),
    '',
  ].join('\n');
}

export function coldstartBenchCommand(): Command {
  const nums = (v: string): number[] => v.split(',').map(Number);
  return new Command('coldstart')
    .description('process start to the first 200 from /v1/search, per gallery size')
    .option('--images <list>', 'gallery sizes', nums, [10_000, 100_000])
    .option('--workers <list>', 'EMBED_WORKERS settings', nums, [0, 2])
    .option('--cold-starts <n>', 'runs per setting', Number, 3)
    .option('--model <dir>', 'model directory (default models/sample, else a random conv4)')
    .option('--work <dir>', 'cache folder for galleries, model and indexes', join(REPO_ROOT, 'tmp', 'api-bench'))
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { images: number[]; workers: number[]; coldStarts: number; model?: string; work: string; out: string }) => {
      const command = `npm run bench -- coldstart ${process.argv.slice(3).join(' ')}`.trim();
      const result = await runColdstartBench({ ...f, command, log: (l) => process.stderr.write(`${l}\n`) });
      const md = coldstartMarkdown(result);
      await writeResults(f.out, 'coldstart', result, md);
      process.stdout.write(`${md}\n`);
    });
}

/** The reindex section: the existing report under the suite's header. */
export function reindexSection(r: ReindexBenchResult, context: SectionContext): string {
  const body = reindexMarkdown(r, context.command).split('\n').filter((l) => !l.startsWith('Command: '));
  const rate = (images: number, seconds: number): string => Math.round(images / seconds).toLocaleString('en-US');
  const speed = [
    `Images/s: full build ${rate(r.full.embedded, r.full.seconds)} (embedded and indexed); re-index after ${(r.changed.added + r.changed.changed + r.changed.removed).toLocaleString('en-US')} changes:`,
    `${rate(r.changed.embedded, r.changed.seconds)} embedded per second of the run, or ${rate(r.images, r.changed.seconds)} gallery images kept current per second.`,
    '',
  ].join('\n');
  const text = [sectionHeader('reindex: full build vs 1% changed', context), demoteHeadings(body.join('\n'), 2).trimEnd(), '', speed].join('\n');
  return text.replace(/\n{3,}/g, '\n\n');
}

export function reindexBenchCommand(): Command {
  return new Command('reindex')
    .description('full build vs re-index after 1% of the gallery changed (images/s)')
    .option('--images <n>', 'gallery images', Number, 10_000)
    .option('--change <f>', 'fraction changed', Number, 0.01)
    .option('--workers <n>', 'embedding workers', Number, 2)
    .option('--model <dir>', 'model directory (default: a random conv4 tower, same speed)')
    .option('--seed <n>', 'seed', Number, 1)
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { images: number; change: number; workers: number; model?: string; seed: number; out: string }) => {
      const context = sectionContext(`npm run bench -- reindex ${process.argv.slice(3).join(' ')}`.trim());
      const result = await runReindexBench({ ...f, modelDir: f.model, log: (l) => process.stderr.write(`${l}\n`) });
      const md = reindexSection(result, context);
      await writeResults(f.out, 'reindex', { context, ...result }, md);
      process.stdout.write(`${md}\n`);
    });
}
