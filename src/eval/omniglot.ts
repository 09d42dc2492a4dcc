/**
 * The standard Omniglot one-shot benchmark (Lake et al. 2015; Koch et al. 2015): 20 runs, each a
 * 20-way within-alphabet task. Every test drawing is classified as the training drawing nearest in
 * embedding space; accuracy is the fraction classified correctly, per run and over all 400 items.
 */
import type * as tf from '@tensorflow/tfjs';
import type { OneShotRun } from '../data/omniglot.js';
import { preprocessImage } from '../data/preprocess.js';
import { l2Distance } from '../model/embed.js';
import { IDENTITY_AFFINE } from '../data/augment.js';
import { embedWithViews, shiftViews } from './tta.js';
import type { ModelCard } from '../model/card.js';

export interface OneShotRunResult {
  run: string;
  correct: number;
  total: number;
  accuracy: number;
}

export interface OneShotResult {
  /** Over all test items of all runs (0..1). */
  accuracy: number;
  correct: number;
  total: number;
  runs: OneShotRunResult[];
}

/** Index of the nearest candidate row to a query row (Euclidean; ties go to the first). */
export function nearest(query: Float32Array, candidates: Float32Array, dim: number): number {
  let best = -1;
  let bestDistance = Infinity;
  for (let i = 0; i < candidates.length / dim; i++) {
    const d = l2Distance(query, candidates.subarray(i * dim, (i + 1) * dim));
    if (d < bestDistance) {
      bestDistance = d;
      best = i;
    }
  }
  return best;
}

export interface OneShotOptions {
  /** Test-time augmentation: average each embedding over the image and its four one-pixel shifts. */
  tta?: boolean;
}

async function embedFiles(tower: tf.LayersModel, card: ModelCard, files: string[], options: OneShotOptions): Promise<Float32Array> {
  const { width, height, channels } = card.preprocess;
  const size = width * height * channels;
  const data = new Float32Array(files.length * size);
  const images = await Promise.all(files.map((f) => preprocessImage(f, card.preprocess)));
  images.forEach((img, i) => data.set(img, i * size));
  const views = options.tta ? shiftViews(width, height) : [IDENTITY_AFFINE];
  return embedWithViews(tower, data, files.length, [height, width, channels], card.tower, views);
}

/**
 * Scores a model on one-shot runs by nearest-neighbour classification.
 *
 * @example
 * const runs = await readOneShotRuns('../shared/datasets/omniglot/one-shot-classification/all_runs');
 * const { accuracy } = await evaluateOneShot(tower, card, runs); // 0.9 = 90%
 */
export async function evaluateOneShot(tower: tf.LayersModel, card: ModelCard, runs: OneShotRun[], options: OneShotOptions = {}): Promise<OneShotResult> {
  const dim = card.embeddingSize;
  const results: OneShotRunResult[] = [];
  for (const run of runs) {
    const train = await embedFiles(tower, card, run.trainFiles, options);
    const test = await embedFiles(tower, card, run.testFiles, options);
    let correct = 0;
    run.testFiles.forEach((_, i) => {
      if (nearest(test.subarray(i * dim, (i + 1) * dim), train, dim) === run.answers[i]) correct++;
    });
    results.push({ run: run.name, correct, total: run.testFiles.length, accuracy: correct / run.testFiles.length });
  }
  const correct = results.reduce((a, r) => a + r.correct, 0);
  const total = results.reduce((a, r) => a + r.total, 0);
  return { accuracy: total ? correct / total : 0, correct, total, runs: results };
}

/** How much accuracy varies from run to run: sample standard deviation, lowest and highest (0..1). */
export interface RunSpread {
  std: number;
  min: number;
  max: number;
}

/**
 * @example
 * runSpread(result); // { std: 0.06, min: 0.8, max: 1 }
 */
export function runSpread(result: Pick<OneShotResult, 'runs'>): RunSpread {
  const accuracies = result.runs.map((r) => r.accuracy);
  if (accuracies.length === 0) return { std: 0, min: 0, max: 0 };
  const mean = accuracies.reduce((a, b) => a + b, 0) / accuracies.length;
  const variance = accuracies.length > 1 ? accuracies.reduce((a, x) => a + (x - mean) ** 2, 0) / (accuracies.length - 1) : 0;
  return { std: Math.sqrt(variance), min: Math.min(...accuracies), max: Math.max(...accuracies) };
}
