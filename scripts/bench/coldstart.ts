/**
 * `npm run bench -- coldstart`: process start to the first 200 from /v1/search, for several gallery
 * sizes, of `npm run dev`'s adapter and of the Lambda handler (the HTTP benchmark's cold starts on
 * their own). Writes bench/results/coldstart.{json,md}.
 *
 *   npm run bench -- coldstart [--images 10000,100000] [--workers 0,2] [--cold-starts 3] [--model DIR] [--work tmp/api-bench]
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { parsePositiveInteger } from '../../src/cli/common.js';
import { stopProcess } from '../server/dev.js';
import { embeddingLabel, median, numberList, table, writeResults } from './common.js';
import { REPO_ROOT, RESULTS_DIR, sectionContext, sectionHeader, suiteCommand, type SectionContext } from './context.js';
import { lambdaColdStart, startServer } from './http/cold-start.js';
import { prepareApiBench } from './http/prepare.js';
import { KEY } from './http/types.js';

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
        await stopProcess(started.dev.child);
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
  return new Command('coldstart')
    .description('process start to the first 200 from /v1/search, per gallery size')
    .option('--images <list>', 'gallery sizes', numberList, [10_000, 100_000])
    .option('--workers <list>', 'EMBED_WORKERS settings', numberList, [0, 2])
    .option('--cold-starts <n>', 'runs per setting', parsePositiveInteger, 3)
    .option('--model <dir>', 'model directory (default models/sample, else a random conv4)')
    .option('--work <dir>', 'cache folder for galleries, model and indexes', join(REPO_ROOT, 'tmp', 'api-bench'))
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { images: number[]; workers: number[]; coldStarts: number; model?: string; work: string; out: string }) => {
      const result = await runColdstartBench({ ...f, command: suiteCommand('coldstart'), log: (l) => process.stderr.write(`${l}\n`) });
      const md = coldstartMarkdown(result);
      await writeResults(f.out, 'coldstart', result, md);
      process.stdout.write(`${md}\n`);
    });
}
