/**
 * The standard Omniglot 20-way one-shot classification benchmark (Lake et al. 2015): 20 runs, each
 * with one drawing of each of 20 characters (`training/classNN.png`) and another drawing of each to
 * classify (`test/itemNN.png`). `class_labels.txt` in each run holds lines
 * `runNN/test/itemXX.png runNN/training/classYY.png` (paths relative to the `all_runs` folder).
 */
import { access, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { datasetsDir } from './datasets.js';
import { compareBytes } from './gallery.js';

export interface OneShotRun {
  /** Folder name, e.g. `run01`. */
  name: string;
  /** Absolute paths of the run's labelled examples, one per class, in byte order of file name. */
  trainFiles: string[];
  /** Absolute paths of the images to classify, in `class_labels.txt` order. */
  testFiles: string[];
  /** For each test file, the index into `trainFiles` of its correct class. */
  answers: number[];
}

/** The runs folder inside the datasets folder. */
export const ONE_SHOT_RUNS_SUBPATH = 'omniglot/one-shot-classification/all_runs';

/** The default `all_runs` folder (see `datasetsDir`). */
export function defaultOneShotRunsDir(): string {
  return join(datasetsDir(), ONE_SHOT_RUNS_SUBPATH);
}

const RUN_NAME = /^run\d+$/;

async function readRun(allRuns: string, name: string): Promise<OneShotRun> {
  const labelsFile = join(allRuns, name, 'class_labels.txt');
  const text = await readFile(labelsFile, 'utf8');
  const trainingDir = join(allRuns, name, 'training');
  const trainFiles = (await readdir(trainingDir))
    .filter((f) => f.toLowerCase().endsWith('.png') && !f.startsWith('.'))
    .sort(compareBytes)
    .map((f) => join(trainingDir, f));
  const trainIndex = new Map(trainFiles.map((f, i) => [f, i]));

  const testFiles: string[] = [];
  const answers: number[] = [];
  text.split(/\r?\n/).forEach((line, lineIndex) => {
    const fields = line.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) return;
    if (fields.length !== 2) {
      throw new Error(`${labelsFile}:${lineIndex + 1}: expected "test-path training-path", got "${line}"`);
    }
    const [testFile, trainFile] = fields.map((f) => resolve(allRuns, f));
    const answer = trainIndex.get(trainFile);
    if (answer === undefined) {
      throw new Error(`${labelsFile}:${lineIndex + 1}: ${trainFile} is not a PNG in ${trainingDir}`);
    }
    testFiles.push(testFile);
    answers.push(answer);
  });
  if (testFiles.length === 0) throw new Error(`${labelsFile} lists no test items`);
  await Promise.all(
    testFiles.map((f) =>
      access(f).catch(() => {
        throw new Error(`${labelsFile} names a missing test image: ${f}`);
      }),
    ),
  );
  return { name, trainFiles, testFiles, answers };
}

/**
 * Reads every `runNN` folder of an Omniglot `all_runs` folder, sorted by name.
 *
 * @example
 * const runs = await readOneShotRuns(defaultOneShotRunsDir());
 * runs.length;                // 20
 * runs[0].answers[0];         // index into runs[0].trainFiles of item01's class
 */
export async function readOneShotRuns(dir: string): Promise<OneShotRun[]> {
  const allRuns = resolve(dir);
  const entries = await readdir(allRuns, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot read the Omniglot one-shot runs folder ${allRuns}: ${error.message}`, { cause: error });
  });
  const names = entries
    .filter((e) => e.isDirectory() && RUN_NAME.test(e.name))
    .map((e) => e.name)
    .sort(compareBytes);
  if (names.length === 0) throw new Error(`no run folders (run01, run02, ...) in ${allRuns}`);
  return Promise.all(names.map((name) => readRun(allRuns, name)));
}
