/**
 * Embedding throughput, side by side in one run: images/s of the tower per tfjs backend (wasm,
 * cpu; tfjs-node where installed) and batch size, its FLOPs per image and the GFLOP/s achieved,
 * next to the peak of a large square matmul timed on the same backend in the same process.
 * Each backend runs in its own process (tfjs has one engine per process).
 *
 *   npm run bench -- embed [--batches 1,8,64] [--seconds 3] [--backends wasm,cpu,tensorflow] [--model DIR]
 *
 * Writes bench/results/embed.{json,md}.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { numberList, table, writeResults } from './common.js';
import { REPO_ROOT, RESULTS_DIR, sectionContext, sectionHeader, suiteCommand, type SectionContext } from './context.js';
import type { EmbedChildJob, EmbedChildResult } from './embed-child.js';

const run = promisify(execFile);

export interface EmbedBenchOptions {
  backends: string[];
  batches: number[];
  seconds: number;
  /** The pure-JS cpu backend is ~20x slower: it gets fewer seconds and matmul sizes. */
  cpuSeconds: number;
  modelDir?: string;
  command?: string;
  log?: (line: string) => void;
}

export interface EmbedBenchResult {
  context: SectionContext;
  measured: EmbedChildResult[];
  skipped: { backend: string; reason: string }[];
}

async function measureBackend(job: EmbedChildJob): Promise<EmbedChildResult> {
  const tsx = join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  try {
    const { stdout } = await run(tsx, [join(REPO_ROOT, 'scripts', 'bench', 'embed-child.ts'), JSON.stringify(job)], {
      cwd: REPO_ROOT,
      maxBuffer: 1 << 24,
      env: { ...process.env, TWINSEARCH_BACKEND: '' },
    });
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as EmbedChildResult;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim() ?? '';
    // initBackend's own message says why (e.g. tfjs-node not installed); else the last line.
    throw new Error(/Backend "\w+" is not available: [^\n]*/.exec(stderr)?.[0] ?? (stderr.split('\n').at(-1) || String(err)));
  }
}

/**
 * @example
 * const r = await runEmbedBench({ backends: ['wasm', 'cpu', 'tensorflow'], batches: [1, 8, 64], seconds: 3, cpuSeconds: 2 });
 */
export async function runEmbedBench(o: EmbedBenchOptions): Promise<EmbedBenchResult> {
  const log = o.log ?? (() => {});
  const context = sectionContext(o.command ?? `npm run bench -- embed --batches ${o.batches.join(',')} --seconds ${o.seconds}`);
  const measured: EmbedChildResult[] = [];
  const skipped: EmbedBenchResult['skipped'] = [];
  for (const backend of o.backends) {
    const cpu = backend === 'cpu';
    const job: EmbedChildJob = {
      backend,
      batches: o.batches,
      seconds: cpu ? o.cpuSeconds : o.seconds,
      minPasses: cpu ? 1 : 3,
      matmulSizes: cpu ? [256, 512] : [256, 512, 1024],
      modelDir: o.modelDir,
    };
    try {
      const r = await measureBackend(job);
      measured.push(r);
      log(`${backend}: ${r.rows.map((x) => `batch ${x.batch} ${x.imagesPerSecond.toFixed(0)} img/s`).join(', ')}; matmul peak ${r.peakGflops.toFixed(2)} GFLOP/s`);
    } catch (err) {
      skipped.push({ backend, reason: (err as Error).message });
      log(`${backend}: skipped (${(err as Error).message})`);
    }
  }
  return { context, measured, skipped };
}

const fmt = (x: number, digits = 2): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The markdown of a run (bench/results/embed.md). */
export function embedMarkdown(r: EmbedBenchResult): string {
  const tower = r.measured[0]?.tower;
  const rows = r.measured.flatMap((m) =>
    m.rows.map((x) => ({
      backend: m.backend,
      batch: x.batch,
      'images/s': fmt(x.imagesPerSecond, 0),
      'ms/pass': fmt(x.msPerPass, 2),
      'GFLOP/s': fmt(x.gflops),
      'matmul peak GFLOP/s': fmt(m.peakGflops),
      'peak / achieved': `${fmt(m.peakGflops / x.gflops, 1)}x`,
    })),
  );
  const matmulRows = r.measured.flatMap((m) => m.matmul.map((x) => ({ backend: m.backend, 'matmul n x n': x.size, runs: x.runs, 'GFLOP/s': fmt(x.gflops) })));
  const best = r.measured.map((m) => {
    const top = m.rows.reduce((a, b) => (b.gflops > a.gflops ? b : a));
    return `${m.backend}: best ${fmt(top.gflops)} GFLOP/s at batch ${top.batch}, ${fmt(m.peakGflops / top.gflops, 1)}x below its matmul peak (target: within 3x)`;
  });
  return [
    sectionHeader('embed: tower throughput vs the matmul peak', r.context),
    tower
      ? `Tower: ${tower.name}, input ${tower.inputShape.join('x')}, ${tower.parameters.toLocaleString('en-US')} parameters, **${(tower.flopsPerImage / 1e6).toFixed(2)} MFLOP per image** (2 x multiply-adds of conv and dense layers, \`towerSummary\`). ` +
        'Inference through `embed()` (forward pass + L2 normalisation, result read back), random inputs, one warm-up pass, then passes repeated for a fixed time. ' +
        'The matmul peak is the best of square `tf.matMul` sizes timed on the same backend in the same process; both run on one thread (wasm is single-threaded in Node; the serving path uses one worker per core for two).'
      : '',
    '',
    table(rows),
    '',
    ...best.map((b) => `- ${b}`),
    '',
    '<details><summary>matmul runs</summary>',
    '',
    table(matmulRows),
    '',
    '</details>',
    '',
    ...(r.skipped.length ? ['Not measured:', ...r.skipped.map((s) => `- ${s.backend}: ${s.reason}`), ''] : []),
  ].join('\n');
}

export function embedBenchCommand(): Command {
  return new Command('embed')
    .description('tower images/s per backend and batch size, GFLOP/s vs a matmul peak')
    .option('--backends <list>', 'comma-separated subset of wasm,cpu,tensorflow', (v) => v.split(','), ['wasm', 'cpu', 'tensorflow'])
    .option('--batches <list>', 'batch sizes', numberList, [1, 8, 64])
    .option('--seconds <s>', 'seconds timed per batch size (wasm, tensorflow)', Number, 3)
    .option('--cpu-seconds <s>', 'seconds timed per batch size on the pure-JS cpu backend', Number, 2)
    .option('--model <dir>', 'model directory (default: the default conv4 tower, random weights: same speed)')
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { backends: string[]; batches: number[]; seconds: number; cpuSeconds: number; model?: string; out: string }) => {
      const command = suiteCommand('embed');
      const result = await runEmbedBench({ ...f, modelDir: f.model, command, log: (l) => process.stderr.write(`${l}\n`) });
      const md = embedMarkdown(result);
      await writeResults(f.out, 'embed', result, md);
      process.stdout.write(`${md}\n`);
    });
}
