import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultOneShotRunsDir, readOneShotRuns } from './omniglot.js';

describe('readOneShotRuns on a synthetic runs folder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'twinsearch-runs-'));
    for (const run of ['run02', 'run01']) {
      await mkdir(join(dir, run, 'training'), { recursive: true });
      await mkdir(join(dir, run, 'test'), { recursive: true });
      for (const n of ['01', '02', '03']) {
        await writeFile(join(dir, run, 'training', `class${n}.png`), 'png');
        await writeFile(join(dir, run, 'test', `item${n}.png`), 'png');
      }
      const lines = [`${run}/test/item01.png ${run}/training/class03.png`, `${run}/test/item02.png ${run}/training/class01.png`, `${run}/test/item03.png ${run}/training/class02.png`];
      await writeFile(join(dir, run, 'class_labels.txt'), `${lines.join('\r\n')}\n\n`);
    }
    await mkdir(join(dir, 'not-a-run'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads runs in order with absolute paths and answer indices', async () => {
    const runs = await readOneShotRuns(dir);
    expect(runs.map((r) => r.name)).toEqual(['run01', 'run02']);
    const [run] = runs;
    expect(run.trainFiles).toEqual(['01', '02', '03'].map((n) => join(dir, 'run01/training', `class${n}.png`)));
    expect(run.testFiles).toEqual(['01', '02', '03'].map((n) => join(dir, 'run01/test', `item${n}.png`)));
    expect(run.answers).toEqual([2, 0, 1]);
  });

  it('reports bad label lines and missing folders clearly', async () => {
    await writeFile(join(dir, 'run02', 'class_labels.txt'), 'run02/test/item01.png run02/training/class09.png\n');
    await expect(readOneShotRuns(dir)).rejects.toThrow(/class09\.png is not a PNG in/);
    await writeFile(join(dir, 'run02', 'class_labels.txt'), 'only-one-field\n');
    await expect(readOneShotRuns(dir)).rejects.toThrow(/class_labels\.txt:1: expected/);
    await writeFile(join(dir, 'run02', 'class_labels.txt'), 'run02/test/item09.png run02/training/class01.png\n');
    await expect(readOneShotRuns(dir)).rejects.toThrow(/missing test image/);
    await expect(readOneShotRuns(join(dir, 'nowhere'))).rejects.toThrow(/cannot read the Omniglot one-shot runs folder/);
    await expect(readOneShotRuns(join(dir, 'not-a-run'))).rejects.toThrow(/no run folders/);
  });
});

const realRuns = defaultOneShotRunsDir();
const haveRealRuns = existsSync(realRuns);

describe('readOneShotRuns on the real Omniglot runs', () => {
  it.skipIf(!haveRealRuns)(
    `reads 20 runs of 20 classes (skipped when ${realRuns} is absent; set TWINSEARCH_DATASETS)`,
    async () => {
      const runs = await readOneShotRuns(realRuns);
      expect(runs).toHaveLength(20);
      expect(runs[0].name).toBe('run01');
      expect(runs[19].name).toBe('run20');
      for (const run of runs) {
        expect(run.trainFiles).toHaveLength(20);
        expect(run.testFiles).toHaveLength(20);
        // Every class is the answer for exactly one test item.
        expect([...run.answers].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
        for (const f of [...run.trainFiles, ...run.testFiles]) expect(existsSync(f)).toBe(true);
      }
      // run01/class_labels.txt starts "run01/test/item01.png run01/training/class08.png".
      expect(basename(runs[0].testFiles[0])).toBe('item01.png');
      expect(basename(runs[0].trainFiles[runs[0].answers[0]])).toBe('class08.png');
    },
  );
});
