/**
 * Why do fresh Omniglot runs score lower than the 20 standard ones? One model is scored on run sets
 * that each change one thing about how a run is drawn, so the gap splits into its causes:
 *
 * - `standard`: the 20 runs of Lake et al.;
 * - `fresh`: `npm run eval -- omniglot --fresh` draws (no image of a standard run), several seeds;
 * - `fresh, standard images allowed`: the same draw without that exclusion;
 * - `fresh, standard alphabets`: the same, within the standard runs' 10 alphabets only;
 * - `standard drawers, characters redrawn`: each standard run's alphabet and drawer pair, 20 characters
 *   of the alphabet drawn at random (the run's own may come up again);
 * - `standard characters, drawers redrawn`: each standard run's 20 characters, another pair of
 *   drawers among 01-08.
 *
 * npx tsx scripts/research/omniglot-gap.ts --model DIR [--runs-per-set 200] [--seed 1] [--out DIR]
 */
import { join } from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { defaultOneShotRunsDir, readOneShotRuns, type OneShotRun } from '../../src/data/omniglot.js';
import { DRAWERS, WAYS, drawFreshRuns, readEvaluationListing, readStandardRunSources, type EvaluationListing } from '../../src/data/omniglot-fresh.js';
import { createRng, type Rng } from '../../src/data/rng.js';
import { evaluateOneShot, runSpread, type OneShotResult } from '../../src/eval/omniglot.js';
import { initBackend } from '../../src/model/backend.js';
import { loadModel } from '../../src/model/io.js';
import { writeFileAtomic } from '../../src/util/atomic.js';

/** A standard run as drawn: its alphabet, characters (in class order) and drawers. */
export interface StandardDraw {
  alphabet: string;
  characters: string[];
  trainDrawer: number;
  testDrawer: number;
}

/** Each standard run's draw, read from `all_runs_sources.txt`, in run order. */
export async function readStandardDraws(sourcesFile: string): Promise<StandardDraw[]> {
  const line = /^run(\d+)\/(training|test)\/\w+\.png images_evaluation\/([^/]+)\/([^/]+)\/\d+_(\d+)\.png$/;
  const draws = new Map<number, StandardDraw>();
  for (const text of (await readFile(sourcesFile, 'utf8')).split(/\r?\n/)) {
    const m = line.exec(text.trim());
    if (!m) continue;
    const [, run, side, alphabet, character, drawer] = m;
    const draw = draws.get(Number(run)) ?? { alphabet: alphabet!, characters: [], trainDrawer: 0, testDrawer: 0 };
    if (side === 'training') {
      draw.characters.push(character!);
      draw.trainDrawer = Number(drawer);
    } else draw.testDrawer = Number(drawer);
    draws.set(Number(run), draw);
  }
  return [...draws.keys()].sort((a, b) => a - b).map((k) => draws.get(k)!);
}

/** A run from chosen characters and drawers, test items in a shuffled order. */
function makeRun(name: string, listing: EvaluationListing, draw: StandardDraw, rng: Rng): OneShotRun {
  const drawings = draw.characters.map((c) => listing.get(draw.alphabet)!.get(c)!);
  const order = rng.shuffle(drawings.map((_, i) => i));
  return { name, trainFiles: drawings.map((d) => d.get(draw.trainDrawer)!), testFiles: order.map((i) => drawings[i]!.get(draw.testDrawer)!), answers: order };
}

const hasBoth = (listing: EvaluationListing, alphabet: string, character: string, a: number, b: number): boolean => {
  const d = listing.get(alphabet)!.get(character)!;
  return d.has(a) && d.has(b);
};

/** `count` runs cycling over the standard draws: same alphabet and drawers, 20 characters drawn anew. */
export function charactersRedrawn(listing: EvaluationListing, standard: StandardDraw[], count: number, rng: Rng): OneShotRun[] {
  return Array.from({ length: count }, (_, i) => {
    const draw = standard[i % standard.length]!;
    const usable = [...listing.get(draw.alphabet)!.keys()].filter((c) => hasBoth(listing, draw.alphabet, c, draw.trainDrawer, draw.testDrawer));
    return makeRun(`chars${i + 1}`, listing, { ...draw, characters: rng.shuffle(usable).slice(0, WAYS) }, rng);
  });
}

/** `count` runs cycling over the standard draws: same characters, another pair of drawers among 01-08. */
export function drawersRedrawn(listing: EvaluationListing, standard: StandardDraw[], count: number, rng: Rng): OneShotRun[] {
  const runs: OneShotRun[] = [];
  for (let i = 0; runs.length < count; i++) {
    const draw = standard[i % standard.length]!;
    const [trainDrawer, testDrawer] = rng.shuffle([...DRAWERS]) as [number, number];
    if (trainDrawer === draw.trainDrawer && testDrawer === draw.testDrawer) continue;
    if (!draw.characters.every((c) => hasBoth(listing, draw.alphabet, c, trainDrawer, testDrawer))) continue;
    runs.push(makeRun(`drawers${runs.length + 1}`, listing, { ...draw, trainDrawer, testDrawer }, rng));
  }
  return runs;
}

async function main(): Promise<void> {
  const program = new Command()
    .requiredOption('--model <dir>', 'model directory')
    .option('--runs <dir>', 'all_runs directory', defaultOneShotRunsDir())
    .option('--runs-per-set <n>', 'runs in each drawn set', (v) => Number(v), 200)
    .option('--seed <n>', 'first seed', (v) => Number(v), 1)
    .option('--out <dir>', 'where gap.json and gap.md go', 'docs/research/2026-12-omniglot-fresh')
    .option('--name <name>', 'file name stem', 'gap')
    .parse();
  const opts = program.opts<{ model: string; runs: string; runsPerSet: number; seed: number; out: string; name: string }>();
  const command = `npx tsx scripts/research/omniglot-gap.ts ${process.argv.slice(2).join(' ')}`.trim();
  await initBackend({});
  const { tower, card } = await loadModel(opts.model);
  const sourcesFile = join(opts.runs, '..', 'all_runs_sources.txt');
  const listing = await readEvaluationListing(join(opts.runs, '..', '..', 'images_evaluation'));
  const standardDraws = await readStandardDraws(sourcesFile);
  const standardAlphabets = new Set(standardDraws.map((d) => d.alphabet));
  const onlyStandardAlphabets: EvaluationListing = new Map([...listing].filter(([a]) => standardAlphabets.has(a)));
  const exclude = await readStandardRunSources(sourcesFile);
  const n = opts.runsPerSet;
  const freshSeeds = Array.from({ length: Math.max(1, Math.round(n / 40)) }, (_, i) => opts.seed + i);

  const sets: { name: string; runs: OneShotRun[] }[] = [
    { name: 'standard', runs: await readOneShotRuns(opts.runs) },
    { name: `fresh (${freshSeeds.length} x 40 runs, seeds ${freshSeeds.join(', ')})`, runs: freshSeeds.flatMap((s) => drawFreshRuns(listing, 40, s, exclude)) },
    { name: 'fresh, standard images allowed', runs: drawFreshRuns(listing, n, opts.seed) },
    { name: 'fresh, standard alphabets only, standard images allowed', runs: drawFreshRuns(onlyStandardAlphabets, n, opts.seed) },
    { name: 'standard alphabet and drawers, characters redrawn', runs: charactersRedrawn(listing, standardDraws, n, createRng(opts.seed)) },
    { name: 'standard characters, drawers redrawn', runs: drawersRedrawn(listing, standardDraws, n, createRng(opts.seed)) },
  ];

  const rows: { set: string; runs: number; accuracy: number; standardError: number; sd: number }[] = [];
  for (const set of sets) {
    const result: OneShotResult = await evaluateOneShot(tower, card, set.runs);
    const spread = runSpread(result);
    rows.push({ set: set.name, runs: set.runs.length, accuracy: result.accuracy, sd: spread.std, standardError: spread.std / Math.sqrt(set.runs.length) });
    console.error(`${set.name}: ${(result.accuracy * 100).toFixed(2)}% over ${set.runs.length} runs (sd ${(spread.std * 100).toFixed(1)})`);
  }

  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const table = [
    '| runs | how drawn | accuracy | ± standard error | per-run sd |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.runs} | ${r.set} | ${pct(r.accuracy)} | ${(r.standardError * 100).toFixed(1)} | ${(r.sd * 100).toFixed(1)} |`),
  ].join('\n');
  await mkdir(opts.out, { recursive: true });
  await writeFileAtomic(join(opts.out, `${opts.name}.json`), `${JSON.stringify({ command, model: opts.model, modelId: card.modelId, rows }, null, 2)}\n`);
  await writeFileAtomic(join(opts.out, `${opts.name}.md`), `Model ${card.modelId}. \`${command}\`\n\n${table}\n`);
  console.log(table);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
