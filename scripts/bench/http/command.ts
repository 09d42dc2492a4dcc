/**
 * `npm run bench -- http`: writes bench/results/http.{json,md}.
 *
 *   npm run bench -- http [--images 10000] [--duration 30] [--connections 1,16,64] [--workers 0,2]
 *       [--routes search,verify] [--queries png28,photo] [--cold-starts 3] [--model DIR] [--work tmp/api-bench] [--out bench/results]
 */
import { join } from 'node:path';
import { Command } from 'commander';
import { parsePositiveInteger } from '../../../src/cli/common.js';
import { numberList, writeResults } from '../common.js';
import { REPO_ROOT, RESULTS_DIR, suiteCommand } from '../context.js';
import { httpMarkdown } from './report.js';
import { runApiBench } from './run.js';
import { BENCH_ROUTES, QUERY_KINDS, type BenchRoute, type QueryKind } from './types.js';

export function httpBenchCommand(): Command {
  const names = <T extends string>(v: string): T[] => v.split(',').map((x) => x.trim()) as T[];
  return new Command('http')
    .description('POST /v1/search and /v1/verify under load (autocannon), per-request time split, cold starts')
    .option('--images <n>', 'gallery images (10 per identity)', parsePositiveInteger, 10_000)
    .option('--duration <s>', 'seconds per load run', parsePositiveInteger, 30)
    .option('--connections <list>', 'connection counts', numberList, [1, 16, 64])
    .option('--workers <list>', 'EMBED_WORKERS settings to compare', numberList, [0, 2])
    .option('--routes <list>', `endpoints: ${BENCH_ROUTES.join(', ')}`, names<BenchRoute>, [...BENCH_ROUTES])
    .option('--queries <list>', `query encodings: ${QUERY_KINDS.join(', ')}`, names<QueryKind>, [...QUERY_KINDS])
    .option('--cold-starts <n>', 'cold starts per setting (the first one starts the server the load runs use)', parsePositiveInteger, 3)
    .option('--model <dir>', 'model directory (default models/sample, else a random conv4)')
    .option('--work <dir>', 'cache folder for gallery, model and index', join(REPO_ROOT, 'tmp', 'api-bench'))
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { images: number; duration: number; connections: number[]; workers: number[]; routes: BenchRoute[]; queries: QueryKind[]; coldStarts: number; model?: string; work: string; out: string }) => {
      const result = await runApiBench({ ...f, log: (m) => process.stderr.write(`${m}\n`) });
      const markdown = httpMarkdown(result, suiteCommand('http'));
      await writeResults(f.out, 'http', result, markdown);
      process.stdout.write(markdown);
    });
}
