/**
 * The run sets of scripts/research/omniglot-gap.ts change one thing each about a standard run: a test
 * that they change that thing and nothing else, on a synthetic listing and sources file.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng } from '../src/data/rng.js';
import type { EvaluationListing } from '../src/data/omniglot-fresh.js';
import { charactersRedrawn, drawersRedrawn, readStandardDraws, type StandardDraw } from '../scripts/research/omniglot-gap.js';

/** `characters` characters per alphabet, drawers 1-20 each. */
function listingOf(alphabets: Record<string, number>): EvaluationListing {
  return new Map(
    Object.entries(alphabets).map(([alphabet, count]) => [
      alphabet,
      new Map(Array.from({ length: count }, (_, c) => {
        const name = `character${String(c + 1).padStart(2, '0')}`;
        return [name, new Map(Array.from({ length: 20 }, (_, d) => [d + 1, `/e/${alphabet}/${name}/${String(c + 1).padStart(4, '0')}_${String(d + 1).padStart(2, '0')}.png`]))];
      })),
    ]),
  );
}

const parts = (file: string) => ({ alphabet: basename(dirname(dirname(file))), character: basename(dirname(file)), drawer: Number(/_(\d+)\.png$/.exec(file)![1]) });
const characterNames = (count: number, from = 1) => Array.from({ length: count }, (_, i) => `character${String(i + from).padStart(2, '0')}`);

describe('omniglot-gap run sets', () => {
  const listing = listingOf({ Alpha: 30, Beta: 40 });
  const standard: StandardDraw[] = [
    { alphabet: 'Alpha', characters: characterNames(20), trainDrawer: 3, testDrawer: 7 },
    { alphabet: 'Beta', characters: characterNames(20, 11), trainDrawer: 8, testDrawer: 1 },
  ];

  it('reads each standard run\'s alphabet, characters in class order, and drawers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gap-'));
    try {
      const file = join(dir, 'all_runs_sources.txt');
      await writeFile(file, [
        'run01/test/item01.png images_evaluation/Alpha/character02/0002_07.png',
        'run01/training/class01.png images_evaluation/Alpha/character05/0005_03.png',
        'run01/training/class02.png images_evaluation/Alpha/character02/0002_03.png',
        'run02/training/class01.png images_evaluation/Beta/character11/0011_08.png',
        'run02/test/item01.png images_evaluation/Beta/character11/0011_01.png',
        '',
      ].join('\n'));
      expect(await readStandardDraws(file)).toEqual([
        { alphabet: 'Alpha', characters: ['character05', 'character02'], trainDrawer: 3, testDrawer: 7 },
        { alphabet: 'Beta', characters: ['character11'], trainDrawer: 8, testDrawer: 1 },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('characters redrawn: each run keeps its standard run\'s alphabet and drawers, with 20 distinct characters of it', () => {
    const runs = charactersRedrawn(listing, standard, 10, createRng(1));
    expect(runs).toHaveLength(10);
    const changed = runs.filter((run, i) => {
      const draw = standard[i % 2]!;
      const train = run.trainFiles.map(parts);
      expect(new Set(train.map((p) => p.character)).size).toBe(20);
      expect(train.every((p) => p.alphabet === draw.alphabet && p.drawer === draw.trainDrawer)).toBe(true);
      expect(run.testFiles.map(parts).every((p) => p.alphabet === draw.alphabet && p.drawer === draw.testDrawer)).toBe(true);
      // Item i's answer is the example of its own character.
      run.testFiles.forEach((file, k) => expect(parts(run.trainFiles[run.answers[k]!]!).character).toBe(parts(file).character));
      return train.some((p) => !draw.characters.includes(p.character));
    });
    expect(changed.length).toBeGreaterThan(0);
  });

  it('drawers redrawn: each run keeps its standard run\'s characters, with another pair of drawers among 01-08', () => {
    const runs = drawersRedrawn(listing, standard, 10, createRng(1));
    expect(runs).toHaveLength(10);
    runs.forEach((run, i) => {
      const draw = standard[i % 2]!;
      const train = run.trainFiles.map(parts);
      const test = run.testFiles.map(parts);
      expect(train.map((p) => p.character)).toEqual(draw.characters);
      const [trainDrawer, testDrawer] = [train[0]!.drawer, test[0]!.drawer];
      expect(train.every((p) => p.drawer === trainDrawer) && test.every((p) => p.drawer === testDrawer)).toBe(true);
      expect(trainDrawer).not.toBe(testDrawer);
      expect([trainDrawer, testDrawer].every((d) => d >= 1 && d <= 8)).toBe(true);
      expect(trainDrawer === draw.trainDrawer && testDrawer === draw.testDrawer).toBe(false);
      run.testFiles.forEach((file, k) => expect(parts(run.trainFiles[run.answers[k]!]!).character).toBe(parts(file).character));
    });
  });
});
