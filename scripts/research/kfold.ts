/**
 * k-fold cross-validation by identity, the protocol behind the AT&T tables in docs/results.md: split
 * the pool identities (s1-s30) into k contiguous folds, and for each fold and seed train on the other
 * folds and score the fold with `npm run eval -- verify`; optionally also train on the whole pool and
 * score the held-out test identities (s31-s40). Each run is a child process (`src/cli/train.ts`, then
 * `src/cli/eval.ts`), `--parallel` at a time, so a run's tfjs, memory and crash stay its own.
 *
 * npx tsx scripts/research/kfold.ts --data ../shared/datasets/att-faces --pool '^s([1-9]|[12][0-9]|30)$' --folds 3 \
 *   --test '^s(3[1-9]|40)$' --seeds 42,7 --parallel 2 --name s4856 --out models/kfold \
 *   --json docs/results/kfold-s4856.json --report docs/results/kfold-s4856.md -- \
 *   --loss cosface --input-size 48x56 --filters 32 --embedding-size 64 --epochs 120 --steps-per-epoch 20 \
 *   --batch 64 --patience 0 --lr 1e-3 --val-fraction 0.05 --keep-weights last --workers 1 --augment --flip --flip-average
 *
 * Seeds matter as much as settings here: with 10 people per fold one seed can move a fold's EER by
 * 3-4 points, so compare configurations over several seeds (the report gives each seed's fold mean).
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { readGallery } from '../../src/data/gallery.js';
import { parseNumberList, parsePositiveInteger } from '../../src/cli/common.js';
import { writeFileAtomic } from '../../src/util/atomic.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One training + evaluation: `fold` is a fold's letter, or 'test' (whole pool → test identities). */
export interface KFoldRun {
  fold: string;
  seed: number;
  /** Identities trained on, and identities scored. */
  train: string[];
  score: string[];
}

export interface KFoldResult extends KFoldRun {
  eer: number;
  auc: number;
  rank1: number;
  mapAtR: number;
  tarAtFar: Record<string, number>;
  /** Seconds of training and evaluation. */
  seconds: number;
}

/**
 * The runs of the protocol: `folds` contiguous folds of `pool` (in natural order: s2 before s10), named
 * a, b, c...; each trains on the rest of the pool. With `test`, one more run per seed trains on the whole
 * pool and scores `test`. Pure.
 *
 * @example
 * planKFold(['s1', 's2', 's3', 's4'], 2, [42], ['s5']);
 * // [{ fold: 'a', seed: 42, train: ['s3', 's4'], score: ['s1', 's2'] }, { fold: 'b', ... }, { fold: 'test', train: [all 4], score: ['s5'] }]
 */
export function planKFold(pool: readonly string[], folds: number, seeds: readonly number[], test: readonly string[] = []): KFoldRun[] {
  if (!Number.isInteger(folds) || folds < 2) throw new RangeError(`--folds must be an integer of 2 or more, got ${folds}`);
  if (pool.length < 2 * folds) throw new RangeError(`${pool.length} pool identities are too few for ${folds} folds (each fold needs 2 to score pairs)`);
  const overlap = test.filter((name) => pool.includes(name));
  if (overlap.length > 0) throw new RangeError(`test identities must not be in the pool (the test run trains on the whole pool): ${overlap.join(', ')}`);
  const sorted = [...pool].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const groups = Array.from({ length: folds }, (_, k) => sorted.slice(Math.round((k * sorted.length) / folds), Math.round(((k + 1) * sorted.length) / folds)));
  const runs: KFoldRun[] = [];
  for (const seed of seeds) {
    groups.forEach((score, k) => runs.push({ fold: String.fromCharCode(97 + k), seed, train: sorted.filter((name) => !score.includes(name)), score }));
    if (test.length > 0) runs.push({ fold: 'test', seed, train: sorted, score: [...test] });
  }
  return runs;
}

/** A regular expression matching exactly these identity names (for --include-identities). */
export function exactNames(names: readonly string[]): string {
  return `^(?:${names.map((n) => n.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`;
}

/** Quotes an argument for a POSIX shell when it needs it, so the recorded command can be pasted back. */
const shellQuote = (arg: string): string => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`);

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const pct = (x: number): string => (x * 100).toFixed(1);

/**
 * A markdown table: one row per seed with each fold's EER and the fold mean, the test EER, and a last
 * row with the mean over seeds. Pure.
 */
export function kfoldReport(results: readonly KFoldResult[], meta: { name: string; command: string }): string {
  const folds = [...new Set(results.map((r) => r.fold).filter((f) => f !== 'test'))].sort();
  const seeds = [...new Set(results.map((r) => r.seed))];
  const hasTest = results.some((r) => r.fold === 'test');
  const eerOf = (fold: string, seed: number): number | undefined => results.find((r) => r.fold === fold && r.seed === seed)?.eer;
  const cell = (x: number | undefined): string => (x === undefined ? '-' : `${pct(x)}%`);
  const foldMean = (seed: number): number | undefined => {
    const eers = folds.map((f) => eerOf(f, seed));
    return eers.every((e) => e !== undefined) ? mean(eers as number[]) : undefined;
  };
  const over = (f: (seed: number) => number | undefined): number | undefined => {
    const xs = seeds.map(f).filter((x): x is number => x !== undefined);
    return xs.length ? mean(xs) : undefined;
  };
  const row = (label: string, f: (fold: string) => number | undefined, m: number | undefined, t: number | undefined): string =>
    `| ${label} | ${folds.map((fold) => cell(f(fold))).join(' | ')} | ${cell(m)} |${hasTest ? ` ${cell(t)} |` : ''}`;
  const title = [`# k-fold by identity: ${meta.name}`, '', `Command: \`${meta.command}\``, ''];
  if (results.length === 0) return [...title, 'No run finished.', ''].join('\n');
  return [
    ...title,
    `| seed | ${folds.map((f) => `fold ${f} EER`).join(' | ')} | fold mean |${hasTest ? ' test EER |' : ''}`,
    `|---|${folds.map(() => '---|').join('')}---|${hasTest ? '---|' : ''}`,
    ...seeds.map((seed) => row(String(seed), (fold) => eerOf(fold, seed), foldMean(seed), eerOf('test', seed))),
    ...(seeds.length > 1 ? [row('mean', (fold) => over((seed) => eerOf(fold, seed)), over(foldMean), over((seed) => eerOf('test', seed)))] : []),
    '',
  ].join('\n');
}

/** Runs a TypeScript CLI of this repository in a child process, its output appended to `log`. */
function runCli(script: string, args: string[], log: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(log, { flags: 'a' });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.pipe(out, { end: false });
    child.stderr.pipe(out, { end: false });
    child.on('error', reject);
    child.on('close', (code) => {
      out.end();
      if (code === 0) resolve();
      else reject(new Error(`${script} exited with ${code}; see ${log}`));
    });
  });
}

export interface KFoldOptions {
  data: string;
  /** Where the models and logs go: <out>/<name>-<fold>-s<seed>/. */
  out: string;
  name: string;
  trainArgs: string[];
  parallel: number;
  /** Called after every run, finished or failed, with everything so far (to save progress). */
  onResult?: (outcome: KFoldOutcome, done: readonly KFoldOutcome[]) => void | Promise<void>;
}

/** A run that did not finish, and why (its log holds the details). */
export interface KFoldFailure extends KFoldRun {
  error: string;
}

export type KFoldOutcome = KFoldResult | KFoldFailure;

export const failed = (outcome: KFoldOutcome): outcome is KFoldFailure => 'error' in outcome;

/**
 * Trains and scores every run, `parallel` at a time; outcomes in the order of `runs`. A run that fails
 * is recorded as a failure and the others go on: hours of finished runs are not lost to one bad fold.
 */
export async function runKFold(runs: readonly KFoldRun[], options: KFoldOptions): Promise<KFoldOutcome[]> {
  await mkdir(options.out, { recursive: true });
  const outcomes: KFoldOutcome[] = new Array(runs.length);
  let next = 0;
  const one = async (run: KFoldRun): Promise<KFoldOutcome> => {
    const model = path.join(options.out, `${options.name}-${run.fold}-s${run.seed}`);
    const log = `${model}.log`;
    const json = `${model}.verify.json`;
    const started = performance.now();
    try {
      // The run's own flags come last so they win over anything in trainArgs.
      await runCli('src/cli/train.ts', ['--data', options.data, ...options.trainArgs, '--out', model, '--include-identities', exactNames(run.train), '--seed', String(run.seed)], log);
      await runCli('src/cli/eval.ts', ['verify', '--model', model, '--data', options.data, '--include-identities', exactNames(run.score), '--bootstrap', '0', '--json', json], log);
      const v = JSON.parse(await readFile(json, 'utf8')) as Pick<KFoldResult, 'eer' | 'auc' | 'rank1' | 'mapAtR' | 'tarAtFar'>;
      return { ...run, eer: v.eer, auc: v.auc, rank1: v.rank1, mapAtR: v.mapAtR, tarAtFar: v.tarAtFar, seconds: (performance.now() - started) / 1000 };
    } catch (error) {
      return { ...run, error: error instanceof Error ? error.message : String(error) };
    }
  };
  const lane = async (): Promise<void> => {
    while (next < runs.length) {
      const index = next++;
      outcomes[index] = await one(runs[index]!);
      await options.onResult?.(outcomes[index]!, outcomes.filter(Boolean));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel, runs.length)) }, lane));
  return outcomes;
}

async function main(argv: string[]): Promise<void> {
  const command = new Command('kfold')
    .description('k-fold cross-validation by identity; training flags go after --')
    .requiredOption('--data <dir>', 'gallery root')
    .requiredOption('--pool <regex>', 'identities split into folds (e.g. the training people s1-s30)')
    .option('--folds <k>', 'number of folds', parsePositiveInteger, 3)
    .option('--test <regex>', 'also train on the whole pool and score these identities')
    .option('--seeds <list>', 'training seeds; every fold runs once per seed', parseNumberList, [42])
    .option('--only <folds>', 'run only these folds, e.g. a,test (to re-run or check one)', (v: string) => v.split(',').map((x) => x.trim()))
    .option('--parallel <n>', 'runs at a time (each trains with its own --workers)', parsePositiveInteger, 1)
    .option('--name <name>', 'name of the configuration (model folders, report title)', 'kfold')
    .option('--out <dir>', 'folder for the models and logs', 'models/kfold')
    .option('--json <file>', 'write every run as JSON')
    .option('--report <file>', 'write the markdown table')
    .argument('[train-flags...]', 'flags for npm run train (after --)')
    .parse(argv, { from: 'user' });
  const f = command.opts<{ data: string; pool: string; folds: number; test?: string; seeds: number[]; only?: string[]; parallel: number; name: string; out: string; json?: string; report?: string }>();
  const trainArgs = command.args;
  const names = (await readGallery(f.data)).identities.map((identity) => identity.name);
  const pool = names.filter((n) => new RegExp(f.pool).test(n));
  const test = f.test ? names.filter((n) => new RegExp(f.test!).test(n)) : [];
  if (f.test && test.length < 2) throw new Error(`--test ${f.test} matches ${test.length} identities; at least 2 are needed`);
  const runs = planKFold(pool, f.folds, f.seeds, test).filter((r) => !f.only || f.only.includes(r.fold));
  if (runs.length === 0) throw new Error(`--only ${f.only?.join(',')} names no fold (folds are a, b, ...${test.length ? ' and test' : ''})`);
  console.log(`${runs.length} runs: ${f.folds} folds of ${pool.length} identities${test.length ? ` + test (${test.length})` : ''} x ${f.seeds.length} seed(s), ${f.parallel} at a time`);
  const commandLine = `npx tsx scripts/research/kfold.ts ${argv.map(shellQuote).join(' ')}`;
  const save = async (outcomes: readonly KFoldOutcome[]): Promise<void> => {
    if (f.json) await writeFileAtomic(f.json, `${JSON.stringify({ name: f.name, command: commandLine, trainArgs, results: outcomes }, null, 2)}\n`);
  };
  const outcomes = await runKFold(runs, {
    data: f.data, out: f.out, name: f.name, trainArgs, parallel: f.parallel,
    onResult: async (r, done) => {
      console.log(failed(r)
        ? `${f.name} fold ${r.fold} seed ${r.seed}: FAILED: ${r.error}`
        : `${f.name} fold ${r.fold} seed ${r.seed}: EER ${pct(r.eer)}%, rank-1 ${pct(r.rank1)}%, MAP@R ${r.mapAtR.toFixed(3)} (${r.seconds.toFixed(0)} s)`);
      await save(done);
    },
  });
  await save(outcomes);
  const report = kfoldReport(outcomes.filter((o): o is KFoldResult => !failed(o)), { name: f.name, command: commandLine });
  console.log(`\n${report}`);
  if (f.report) await writeFileAtomic(f.report, report);
  const failures = outcomes.filter(failed);
  if (failures.length > 0) throw new Error(`${failures.length} of ${outcomes.length} runs failed: ${failures.map((r) => `${r.fold}/s${r.seed}`).join(', ')}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
