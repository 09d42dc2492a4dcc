/**
 * One step's loss and gradients for a planned batch — the same code runs on the main thread
 * (single-process training) and in each gradient worker (data-parallel training).
 */
import * as tf from '@tensorflow/tfjs';
import type { LossName } from '../model/config.js';
import { l2NormalizeRows } from '../model/embed.js';
import { batchHardTripletLoss, contrastiveLoss, cosFaceLoss, euclideanPairLoss, npairLoss, pairDistance } from '../model/losses.js';
import type { BatchPlan } from './batch.js';

export interface LossSettings {
  name: LossName;
  margin: number;
  l2Normalize: boolean;
  /** Fixed logit scale of the CosFace loss (the N-pair loss learns its own: `Trainable.scale`). */
  scale?: number;
}

/**
 * What training updates: the tower's weights, the N-pair loss's learned logit scale, and the CosFace
 * loss's proxies (one row per training identity). Only the tower is saved as the model.
 */
export interface Trainable {
  tower: tf.LayersModel;
  scale?: tf.Variable<tf.Rank.R0>;
  proxies?: tf.Variable<tf.Rank.R2>;
}

/** The variables of a trainable, in a fixed order shared by workers and the optimizer. */
export function trainableVariables(trainable: Trainable): tf.Variable[] {
  const vars = trainable.tower.trainableWeights.map((w) => w.read() as tf.Variable);
  if (trainable.scale) vars.push(trainable.scale);
  if (trainable.proxies) vars.push(trainable.proxies);
  return vars;
}

/** The loss of one batch as a scalar tensor (call inside tidy / variableGrads). */
export function batchLoss(trainable: Trainable, x: tf.Tensor4D, plan: BatchPlan, settings: LossSettings): tf.Scalar {
  const raw = trainable.tower.apply(x, { training: true }) as tf.Tensor2D;
  const e = settings.l2Normalize ? l2NormalizeRows(raw) : raw;
  switch (plan.loss) {
    case 'contrastive':
    case 'euclidean': {
      const n = plan.refs.length / 2;
      const d = pairDistance(e.slice([0, 0], [n, -1]), e.slice([n, 0], [n, -1]));
      const same = tf.tensor1d(plan.same!);
      return plan.loss === 'contrastive' ? contrastiveLoss(d, same, settings.margin) : euclideanPairLoss(d, same, settings.margin);
    }
    case 'triplet':
      return batchHardTripletLoss(e, tf.tensor1d(plan.classes, 'int32'), settings.margin);
    case 'npair':
      if (!trainable.scale) throw new Error('The N-pair loss needs a scale variable');
      return npairLoss(e, trainable.scale);
    case 'cosface':
      if (!trainable.proxies || settings.scale === undefined) throw new Error('The CosFace loss needs proxy variables and a scale');
      return cosFaceLoss(e, trainable.proxies, tf.tensor1d(plan.classes, 'int32'), settings.scale, settings.margin);
  }
}

export interface StepResult {
  loss: number;
  /** One gradient per trainable variable, in `trainableVariables` order. */
  grads: Float32Array[];
}

/**
 * Computes the loss and the gradients of every trainable variable for one batch, leaving no tensors behind.
 *
 * @example
 * const { loss, grads } = computeGradients(trainable, pixels, [28, 28, 1], plan, { name: 'contrastive', margin: 1, l2Normalize: true });
 */
export function computeGradients(
  trainable: Trainable,
  pixels: Float32Array,
  shape: readonly [number, number, number],
  plan: BatchPlan,
  settings: LossSettings,
): StepResult {
  const vars = trainableVariables(trainable);
  const { value, grads } = tf.tidy(() => {
    const x = tf.tensor4d(pixels, [plan.refs.length, ...shape]);
    return tf.variableGrads(() => batchLoss(trainable, x, plan, settings), vars);
  });
  try {
    return {
      loss: value.dataSync()[0]!,
      grads: vars.map((v) => grads[v.name]!.dataSync() as Float32Array),
    };
  } finally {
    value.dispose();
    tf.dispose(grads);
  }
}

/** Copies weights (in `trainableVariables` order) into a trainable — how workers follow the main optimizer. */
export function assignWeights(trainable: Trainable, weights: Float32Array[]): void {
  const vars = trainableVariables(trainable);
  if (vars.length !== weights.length) throw new Error(`Expected ${vars.length} weight arrays, got ${weights.length}`);
  tf.tidy(() => vars.forEach((v, i) => v.assign(tf.tensor(weights[i]!, v.shape, 'float32'))));
}

/** Reads the current weights (in `trainableVariables` order) as plain arrays. */
export function readWeights(trainable: Trainable): Float32Array[] {
  return trainableVariables(trainable).map((v) => v.dataSync() as Float32Array);
}
