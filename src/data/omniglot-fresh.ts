/**
 * Fresh Omniglot one-shot runs, drawn the way the 20 standard runs were (Lake et al. 2015): each run
 * is one alphabet of `images_evaluation`, 20 of its characters, one drawer's drawing of each as the
 * labelled example and another drawer's as the item to classify, both drawers among 01-08 (the ones
 * the standard runs use). Twenty standard runs are few (their per-run spread is wide), and a recipe
 * chosen on them is fitted to them: fresh runs, seeded, give as many more as asked. No fresh run uses
 * an image of a standard run, so choosing on fresh runs leaves the standard runs untouched.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { compareBytes } from './gallery.js';
import { createRng, type Rng } from './rng.js';
import type { OneShotRun } from './omniglot.js';

/** alphabet → character → drawer (1-20) → absolute file. */
export type EvaluationListing = Map<string, Map<string, Map<number, string>>>;

/** Ways per run, as the standard runs. */
export const WAYS = 20;
/** The drawers the standard runs draw from. */
export const DRAWERS = [1, 2, 3, 4, 5, 6, 7, 8] as const;

const DRAWING = /^\d+_(\d+)\.png$/i;

/**
 * Lists `images_evaluation/<Alphabet>/<character>/<id>_<drawer>.png`.
 *
 * @example
 * const listing = await readEvaluationListing('../shared/datasets/omniglot/images_evaluation');
 */
export async function readEvaluationListing(dir: string): Promise<EvaluationListing> {
  const root = resolve(dir);
  const listing: EvaluationListing = new Map();
  const folders = async (path: string) => (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort(compareBytes);
  for (const alphabet of await folders(root)) {
    const characters = new Map<string, Map<number, string>>();
    for (const character of await folders(join(root, alphabet))) {
      const drawings = new Map<number, string>();
      for (const file of (await readdir(join(root, alphabet, character))).sort(compareBytes)) {
        const m = DRAWING.exec(file);
        if (m) drawings.set(Number(m[1]), join(root, alphabet, character, file));
      }
      characters.set(character, drawings);
    }
    listing.set(alphabet, characters);
  }
  if (listing.size === 0) throw new Error(`no alphabet folders in ${root}`);
  return listing;
}

/**
 * The `images_evaluation` files the standard runs are copies of, from `all_runs_sources.txt` (lines
 * `runNN/test/itemXX.png images_evaluation/...png`), as absolute paths; an empty set when the file is absent.
 */
export async function readStandardRunSources(file: string): Promise<Set<string>> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  const root = dirname(dirname(resolve(file)));
  return new Set(
    text
      .split(/\r?\n/)
      .map((line) => line.trim().split(/\s+/)[1])
      .filter((f): f is string => !!f)
      .map((f) => join(root, f)),
  );
}

function shuffle<T>(items: T[], rng: Rng): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Draws `count` runs: alphabet, then two distinct drawers from 01-08, then 20 characters whose two
 * drawings exist and are not standard-run images (an alphabet with too few such characters for the
 * drawers drawn is drawn again). Test items come in a shuffled order, as in the standard runs.
 * Deterministic for a seed; runs are named `fresh01`, `fresh02`, ...
 *
 * @example
 * const runs = drawFreshRuns(listing, 40, 7, await readStandardRunSources(sourcesFile));
 * await evaluateOneShot(tower, card, runs);
 */
export function drawFreshRuns(listing: EvaluationListing, count: number, seed: number, exclude: ReadonlySet<string> = new Set()): OneShotRun[] {
  const rng = createRng(seed);
  const alphabets = [...listing.keys()];
  const runs: OneShotRun[] = [];
  const width = String(count).length < 2 ? 2 : String(count).length;
  for (let attempts = 0; runs.length < count; attempts++) {
    if (attempts > count * 100) throw new Error(`cannot draw ${count} runs of ${WAYS} characters from ${alphabets.length} alphabets with drawers ${DRAWERS.join(', ')}`);
    const alphabet = alphabets[Math.floor(rng.next() * alphabets.length)]!;
    const [trainDrawer, testDrawer] = shuffle([...DRAWERS], rng) as [number, number];
    const usable = [...listing.get(alphabet)!.values()].filter((drawings) => {
      const a = drawings.get(trainDrawer);
      const b = drawings.get(testDrawer);
      return a !== undefined && b !== undefined && !exclude.has(a) && !exclude.has(b);
    });
    if (usable.length < WAYS) continue;
    const characters = shuffle(usable, rng).slice(0, WAYS);
    const order = shuffle(characters.map((_, i) => i), rng);
    runs.push({
      name: `fresh${String(runs.length + 1).padStart(width, '0')}`,
      trainFiles: characters.map((c) => c.get(trainDrawer)!),
      testFiles: order.map((i) => characters[i]!.get(testDrawer)!),
      answers: order,
    });
  }
  return runs;
}
