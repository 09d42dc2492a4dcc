import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetsDir } from './datasets.js';
import { DRAWERS, drawFreshRuns, readEvaluationListing, readStandardRunSources, WAYS, type EvaluationListing } from './omniglot-fresh.js';

/** alphabet/characterNN/NNNN_DD.png for `characters` characters of each alphabet, 20 drawers each. */
function syntheticListing(alphabets: Record<string, number>): EvaluationListing {
  const listing: EvaluationListing = new Map();
  for (const [alphabet, characters] of Object.entries(alphabets)) {
    const chars = new Map<string, Map<number, string>>();
    for (let c = 1; c <= characters; c++) {
      const name = `character${String(c).padStart(2, '0')}`;
      chars.set(name, new Map(Array.from({ length: 20 }, (_, d) => [d + 1, `/e/${alphabet}/${name}/${String(c).padStart(4, '0')}_${String(d + 1).padStart(2, '0')}.png`])));
    }
    listing.set(alphabet, chars);
  }
  return listing;
}

/** What a drawn file says about itself: its alphabet, character and drawer. */
const parts = (file: string) => ({ alphabet: basename(dirname(dirname(file))), character: basename(dirname(file)), drawer: Number(/_(\d+)\.png$/.exec(file)![1]) });

function expectWellFormed(runs: ReturnType<typeof drawFreshRuns>): void {
  for (const run of runs) {
    expect(run.trainFiles).toHaveLength(WAYS);
    expect(run.testFiles).toHaveLength(WAYS);
    const train = run.trainFiles.map(parts);
    const test = run.testFiles.map(parts);
    // One alphabet, 20 distinct characters, one drawer for the examples and another for the items, both among 01-08.
    expect(new Set([...train, ...test].map((p) => p.alphabet)).size).toBe(1);
    expect(new Set(train.map((p) => p.character)).size).toBe(WAYS);
    const trainDrawers = new Set(train.map((p) => p.drawer));
    const testDrawers = new Set(test.map((p) => p.drawer));
    expect(trainDrawers.size).toBe(1);
    expect(testDrawers.size).toBe(1);
    expect([...trainDrawers][0]).not.toBe([...testDrawers][0]);
    for (const d of [...trainDrawers, ...testDrawers]) expect(DRAWERS).toContain(d);
    // Each item's answer is the example of its own character.
    run.testFiles.forEach((_, i) => expect(train[run.answers[i]!]!.character).toBe(test[i]!.character));
  }
}

describe('drawFreshRuns', () => {
  const listing = syntheticListing({ Alpha: 20, Beta: 30, Gamma: 19 });

  it('draws 20-way within-alphabet runs with two distinct drawers from 01-08, the same for the same seed', () => {
    const runs = drawFreshRuns(listing, 12, 5);
    expect(runs.map((r) => r.name)).toEqual(Array.from({ length: 12 }, (_, i) => `fresh${String(i + 1).padStart(2, '0')}`));
    expectWellFormed(runs);
    expect(drawFreshRuns(listing, 12, 5)).toEqual(runs);
    expect(drawFreshRuns(listing, 12, 6)).not.toEqual(runs);
    // An alphabet with fewer than 20 characters is never drawn; the items are not in the examples' order.
    expect(runs.some((r) => parts(r.trainFiles[0]!).alphabet === 'Gamma')).toBe(false);
    expect(runs.some((r) => r.answers.some((a, i) => a !== i))).toBe(true);
  });

  it('uses no excluded (standard-run) image, and says so when no run can be drawn', () => {
    // Alpha has exactly 20 characters: excluding one drawing of one character rules out every run
    // that needs that drawer there, but Beta remains.
    const exclude = new Set([...listing.get('Alpha')!.get('character01')!.values()].slice(0, 8));
    const runs = drawFreshRuns(listing, 30, 1, exclude);
    for (const run of runs) for (const file of [...run.trainFiles, ...run.testFiles]) expect(exclude.has(file)).toBe(false);
    expect(runs.every((r) => parts(r.trainFiles[0]!).alphabet === 'Beta')).toBe(true);
    expect(() => drawFreshRuns(syntheticListing({ Tiny: 19 }), 1, 1)).toThrow(/cannot draw/);
  });
});

const evaluation = join(datasetsDir(), 'omniglot', 'images_evaluation');
const sources = join(datasetsDir(), 'omniglot', 'one-shot-classification', 'all_runs_sources.txt');

describe.skipIf(!existsSync(evaluation) || !existsSync(sources))('fresh runs from the real images_evaluation', () => {
  it('are well formed and share no image with the 20 standard runs', async () => {
    const listing = await readEvaluationListing(evaluation);
    const standard = await readStandardRunSources(sources);
    expect(listing.size).toBe(20);
    expect(standard.size).toBe(800);
    for (const file of standard) expect(existsSync(file)).toBe(true);
    const runs = drawFreshRuns(listing, 40, 7, standard);
    expectWellFormed(runs);
    for (const run of runs) for (const file of [...run.trainFiles, ...run.testFiles]) {
      expect(standard.has(file)).toBe(false);
      expect(existsSync(file)).toBe(true);
    }
  });
});
