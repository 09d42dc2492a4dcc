/**
 * The training run: load the gallery, split it by identity, train the tower on planned batches
 * (optionally data-parallel over worker threads), validate every epoch, keep the best weights,
 * checkpoint, stop early, then calibrate the match threshold on held-out identities and save the
 * model with its card and plots.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { createRng } from '../data/rng.js';
import { galleryDigest, loadImages, readGallery, skippedForCard, unusableLines, type ImageSet } from '../data/gallery.js';
import { allPairs, splitByIdentity } from '../data/pairs.js';
import { gatherImages, imagesOfIdentities, selectIdentities } from '../data/select.js';
import { initBackend, type BackendInfo } from '../model/backend.js';
import { buildTower, towerSummary } from '../model/tower.js';
import { embedImageSetAsync, type EmbedSettings } from '../model/embed.js';
import { ModelLoadError, saveModel } from '../model/io.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { TrainedModelCard } from '../model/card.js';
import { buildClassPool, planBatch, materialiseBatch, type BatchPlan, type ClassPool } from './batch.js';
import { assignWeights, batchLoss, readWeights, trainableVariables, type LossSettings, type Trainable } from './gradients.js';
import { inlineGradients, startGradientWorkers, type GradientSource } from './parallel.js';
import { DEFAULT_TRAIN_OPTIONS, learningRateAt, optionsFromCheckpoint, type TrainOptions } from './options.js';
import { scoreEmbeddings, type ValidationScores } from './validate.js';
import type { Calibration } from './calibrate.js';
import { describeOpenSet } from './open-set.js';
import { calibrateHeldOut } from './held-out.js';
import { centerSample, meanEmbedding } from './center.js';
import { pairDistances, rocCurve, type PairDistances } from '../metrics/index.js';
import { writePlots } from './plots.js';

export interface EpochRecord {
  epoch: number;
  step: number;
  trainLoss: number;
  valLoss: number;
  val: ValidationScores;
  learningRate: number;
  seconds: number;
  pairsPerSecond: number;
}

export interface StepEvent {
  epoch: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  step: number;
  totalSteps: number;
  loss: number;
  pairsPerSecond: number;
  learningRate: number;
  elapsedSeconds: number;
}

export interface TrainHooks {
  log?: (message: string) => void;
  onLoadProgress?: (done: number, total: number) => void;
  onStep?: (event: StepEvent) => void;
  onEpoch?: (record: EpochRecord) => void;
  /** Polled between steps: true stops the run after a checkpoint (Ctrl-C). */
  shouldStop?: () => boolean;
}

export interface TrainResult {
  /** 'completed', 'early-stopped', 'time-limit' or 'interrupted' (checkpoint saved, no final model). */
  outcome: 'completed' | 'early-stopped' | 'time-limit' | 'interrupted';
  card?: TrainedModelCard;
  /** The threshold calibration behind the card's thresholds (absent when interrupted). */
  calibration?: Calibration;
  history: EpochRecord[];
  backend: string;
  checkpointDir: string;
}

type OptimizerWeights = Awaited<ReturnType<tf.Optimizer['getWeights']>>;

interface CheckpointState {
  options: TrainOptions;
  epoch: number;
  /** Steps already done in `epoch` (non-zero when interrupted mid-epoch). */
  stepInEpoch: number;
  step: number;
  elapsedSeconds: number;
  history: EpochRecord[];
  /** The epoch whose weights become the model (latest among equals). */
  best: { epoch: number; mapAtR: number } | null;
  /** The last epoch that strictly raised validation MAP@R (what early stopping counts from). */
  lastImprovement: number;
}

/** The images of some identities, at most `cap` of them (whole identities, in order). */
function subsetByIdentity(set: ImageSet, identities: number[], cap: number): { data: Float32Array; labels: Int32Array; count: number } {
  const picked = imagesOfIdentities(set.labels, identities).slice(0, cap);
  const data = gatherImages(set.data, set.shape[0] * set.shape[1] * set.shape[2], picked);
  return { data, labels: Int32Array.from(picked, (i) => set.labels[i]!), count: picked.length };
}

/** The flags of `npm run train` that the messages about unusable images point to. */
const IMAGE_FLAGS = { skipUnreadable: '--skip-unreadable', maxInputPixels: '--max-input-pixels' } as const;

/** Below this many validation identities the calibrated threshold is a guess (see the warning in `train`). */
export const MIN_CALIBRATION_IDENTITIES = 5;

/** Splits one batch's image budget into per-shard plans. */
function planShards(pool: ClassPool, options: TrainOptions, shards: number, rng: ReturnType<typeof createRng>): BatchPlan[] {
  const perShard = Math.max(4, Math.floor(options.batchImages / shards));
  return Array.from({ length: shards }, () =>
    planBatch(pool, { loss: options.loss, batchImages: perShard, samplesPerIdentity: options.samplesPerIdentity }, rng),
  );
}

/** CosFace proxies: one row per training (virtual) identity, as wide as the tower's embedding. */
function proxyShape(pool: ClassPool, tower: tf.LayersModel): [number, number] {
  const dim = (tower.outputs[0]!.shape as number[])[1]!;
  return [pool.classes.length, dim];
}

function averageGradients(results: { grads: Float32Array[] }[]): Float32Array[] {
  const [first, ...rest] = results;
  const sum = first!.grads.map((g) => Float32Array.from(g));
  for (const r of rest) r.grads.forEach((g, i) => sum[i]!.forEach((_, k, arr) => (arr[k]! += g[k]!)));
  if (rest.length) for (const g of sum) for (let k = 0; k < g.length; k++) g[k]! /= results.length;
  return sum;
}

function pairsInPlan(plan: BatchPlan): number {
  return plan.same ? plan.same.length : plan.refs.length / 2;
}

/**
 * Trains a tower on a gallery and writes the model directory.
 *
 * @example
 * const result = await train({ ...DEFAULT_TRAIN_OPTIONS, data: 'Data', out: 'models/faces' }, { log: console.log });
 * result.card?.thresholds.default; // the calibrated match threshold
 */
export async function train(options: TrainOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const log = hooks.log ?? (() => {});
  const started = performance.now();
  const checkpointDir = path.join(options.out, 'checkpoint');

  // Resume: the checkpoint's options win (a resumed run must be the same run), except where it stops.
  let resumed: { state: CheckpointState; weights: Float32Array[]; optimizer: OptimizerWeights } | undefined;
  if (options.resume) {
    // No checkpoint starts afresh; a damaged one stops the run rather than being overwritten.
    const cp = await loadCheckpoint(checkpointDir).catch((err: unknown) => {
      if (err instanceof ModelLoadError && err.code === 'MODEL_NOT_FOUND') return undefined;
      throw err;
    });
    cp?.tower.dispose(); // the tower is rebuilt from the options; its weights come back through `weights`
    if (cp) {
      const state = cp.state as unknown as CheckpointState;
      options = { ...optionsFromCheckpoint(state.options), resume: true, epochs: options.epochs, timeLimitMinutes: options.timeLimitMinutes };
      resumed = { state, weights: cp.weights, optimizer: cp.optimizer };
      log(`resuming from ${checkpointDir} at epoch ${state.epoch}, step ${state.step}`);
    } else log(`no checkpoint in ${checkpointDir}: starting afresh`);
  }

  const backendInfo: BackendInfo = await initBackend({ preference: options.backend, log });
  const gallery = selectIdentities(await readGallery(options.data), {
    include: options.includeIdentities ? new RegExp(options.includeIdentities) : undefined,
    exclude: options.excludeIdentities ? new RegExp(options.excludeIdentities) : undefined,
  });
  for (const w of gallery.warnings) log(`warning: ${w}`);
  // Every image is decoded (and so checked) before training; all that cannot be used are reported at once.
  // Shared memory: gradient workers read the images in place instead of each receiving a copy.
  const set = await loadImages(gallery, options.preprocess, {
    onUnreadable: options.onUnreadable,
    onProgress: hooks.onLoadProgress,
    sharedMemory: true,
    flags: IMAGE_FLAGS,
    ...(options.maxInputPixels ? { limitInputPixels: options.maxInputPixels } : {}),
  });
  if (set.skipped.length > 0) {
    const total = set.count + set.skipped.length;
    const header = `warning: ${set.skipped.length} of ${total} images cannot be used and ${set.skipped.length === 1 ? 'was' : 'were'} left out (listed in the model card under training.skipped):`;
    log([header, ...unusableLines(gallery, set.skipped, IMAGE_FLAGS.maxInputPixels)].join('\n'));
  }
  const dataDigest = await galleryDigest(gallery);
  const shape = set.shape;

  const split = splitByIdentity(set.identities.length, options.valFraction, createRng(options.seed));
  const trainPool = buildClassPool(set.labels, split.train, options.rotateIdentities);
  const val = subsetByIdentity(set, split.val, options.maxValImages);
  const valPool = buildClassPool(val.labels, split.val, false);
  const trainImages = trainPool.classes.reduce((n, c) => n + trainPool.members.get(c)!.length, 0);
  log(`gallery ${options.data}: ${set.identities.length} identities, ${set.count} images; train ${split.train.length} identities, validation ${split.val.length} (${val.count} images)`);
  if (split.val.length < MIN_CALIBRATION_IDENTITIES) {
    log(
      `warning: the match threshold will be calibrated on ${split.val.length} held-out identities; its measured FAR / TAR may not hold for other people ` +
        `(AT&T faces with 2: FAR at the threshold 0.8%-32% across folds, docs/results.md). Hold out at least ${MIN_CALIBRATION_IDENTITIES} with --val-fraction if the threshold matters.`,
    );
  }

  const tower = buildTower(options.tower, options.preprocess, options.seed);
  const trainable: Trainable = {
    tower,
    // tidy disposes the initial values; each variable keeps its own reference to the data.
    scale: options.loss === 'npair' ? tf.tidy(() => tf.variable(tf.scalar(options.scale), true, 'npair_scale')) : undefined,
    proxies:
      options.loss === 'cosface'
        ? tf.tidy(() => tf.variable(tf.randomNormal(proxyShape(trainPool, tower), 0, 1, 'float32', options.seed + 13), true, 'cosface_proxies'))
        : undefined,
  };
  const optimizer = tf.train.adam(options.learningRate);
  if (resumed) {
    assignWeights(trainable, resumed.weights);
    if (resumed.optimizer.length) await optimizer.setWeights(resumed.optimizer);
    tf.dispose(resumed.optimizer.map((w) => w.tensor));
  }

  const lossSettings: LossSettings = { name: options.loss, margin: options.margin, l2Normalize: options.tower.l2Normalize, scale: options.scale };
  const workerCount = options.workers >= 0 ? options.workers : backendInfo.name === 'tensorflow' ? 0 : 2;
  let source: GradientSource;
  if (workerCount > 0) {
    const images = set.data.buffer as SharedArrayBuffer;
    source = await startGradientWorkers(workerCount, {
      backend: backendInfo.name, tower: options.tower, preprocess: options.preprocess, seed: options.seed,
      withScale: !!trainable.scale, proxyShape: trainable.proxies?.shape, images, shape, rotations: trainPool.rotations, augment: options.augment, loss: lossSettings,
    });
    log(`training on ${workerCount} worker threads (${backendInfo.name})`);
  } else {
    source = inlineGradients({ images: set.data, shape, rotations: trainPool.rotations, augment: options.augment, loss: lossSettings });
  }

  const stepsPerEpoch = options.stepsPerEpoch > 0 ? options.stepsPerEpoch : Math.max(1, Math.ceil(trainImages / trainPool.rotations / options.batchImages));
  const totalSteps = stepsPerEpoch * options.epochs;
  const valPlan = planBatch(valPool, { loss: options.loss, batchImages: Math.min(options.batchImages, 256), samplesPerIdentity: options.samplesPerIdentity }, createRng(options.seed + 7));
  const valPixels = materialiseBatch(val.data, shape, valPlan, 1, null);
  const vars = () => trainableVariables(trainable);

  let epoch = resumed?.state.epoch ?? 0;
  let step = resumed?.state.step ?? 0;
  let stepInEpoch = resumed?.state.stepInEpoch ?? 0;
  const history: EpochRecord[] = resumed?.state.history ?? [];
  let best = resumed?.state.best ?? null;
  let lastImprovement = resumed?.state.lastImprovement ?? 0;
  const bestDir = path.join(checkpointDir, 'best');
  let bestWeights = readWeights(trainable);
  if (resumed && best) {
    const saved = await loadCheckpoint(bestDir);
    saved.tower.dispose();
    bestWeights = saved.weights;
  }
  const priorSeconds = resumed?.state.elapsedSeconds ?? 0;
  const elapsed = (): number => priorSeconds + (performance.now() - started) / 1000;
  const limitSeconds = options.timeLimitMinutes > 0 ? options.timeLimitMinutes * 60 : Infinity;
  let outcome: TrainResult['outcome'] = 'completed';

  const checkpoint = async (): Promise<void> => {
    const state: CheckpointState = { options, epoch, stepInEpoch, step, elapsedSeconds: elapsed(), history, best, lastImprovement };
    const optimizerWeights = await optimizer.getWeights();
    try {
      await saveCheckpoint(checkpointDir, trainable.tower, { state: state as unknown as Record<string, unknown>, weights: readWeights(trainable), optimizer: optimizerWeights });
    } finally {
      // getWeights returns Adam's own slot variables plus a fresh iteration-count tensor: dispose only the fresh one.
      tf.dispose(optimizerWeights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
    }
  };

  // Validation embeds as the saved model will; with --center the final validation also centres.
  const uncentred: EmbedSettings = { l2Normalize: options.tower.l2Normalize, flipAverage: options.tower.flipAverage };
  const validate = async (embedding = uncentred): Promise<{ scores: ValidationScores; valLoss: number; distances: PairDistances; dim: number; vectors: Float32Array }> => {
    const vectors = await embedImageSetAsync(trainable.tower, val.data, val.count, shape, { ...embedding, batchSize: 128 });
    const dim = vectors.length / Math.max(1, val.count);
    const distances = pairDistances(vectors, dim, val.labels, allPairs(val.labels, 200_000, createRng(options.seed + 11)));
    // CosFace's proxies belong to the training identities: validation identities have none, so no validation loss.
    const valLoss = options.loss === 'cosface' ? NaN : tf.tidy(() => batchLoss(trainable, tf.tensor4d(valPixels, [valPlan.refs.length, ...shape]), valPlan, lossSettings).dataSync()[0]!);
    return { scores: scoreEmbeddings(vectors, dim, val.labels, distances), valLoss, distances, dim, vectors };
  };

  try {
    training: while (epoch < options.epochs) {
      const rng = createRng(options.seed * 1_000_003 + epoch + 1);
      const epochStart = performance.now();
      let lossSum = 0;
      let pairs = 0;
      let stepsDone = 0;
      // A run resumed mid-epoch replays the epoch's sampling up to where it stopped, so it draws the same batches.
      for (let s = 0; s < stepInEpoch; s++) planShards(trainPool, options, source.shards, rng);
      for (let s = stepInEpoch; s < stepsPerEpoch; s++) {
        if (hooks.shouldStop?.()) {
          outcome = 'interrupted';
          break training;
        }
        if (elapsed() >= limitSeconds) {
          outcome = 'time-limit';
          break training;
        }
        const progress = Math.max(step / totalSteps, elapsed() / limitSeconds);
        const lr = learningRateAt(options, progress);
        (optimizer as unknown as { learningRate: number }).learningRate = lr; // Adam reads it each step
        const plans = planShards(trainPool, options, source.shards, rng);
        const results = await source.compute(trainable, plans);
        const grads = averageGradients(results);
        tf.tidy(() => optimizer.applyGradients(vars().map((v, i) => ({ name: v.name, tensor: tf.tensor(grads[i]!, v.shape, 'float32') }))));
        const loss = results.reduce((a, r) => a + r.loss, 0) / results.length;
        lossSum += loss;
        stepsDone++;
        step++;
        stepInEpoch = s + 1;
        pairs += plans.reduce((a, p) => a + pairsInPlan(p), 0);
        hooks.onStep?.({
          epoch, stepInEpoch: s + 1, stepsPerEpoch, step, totalSteps, loss, learningRate: lr, elapsedSeconds: elapsed(),
          pairsPerSecond: pairs / ((performance.now() - epochStart) / 1000),
        });
      }
      const seconds = (performance.now() - epochStart) / 1000;
      const { scores, valLoss } = await validate();
      const record: EpochRecord = {
        epoch: epoch + 1, step, trainLoss: lossSum / Math.max(1, stepsDone), valLoss, val: scores,
        learningRate: learningRateAt(options, Math.max(step / totalSteps, elapsed() / limitSeconds)), seconds, pairsPerSecond: pairs / seconds,
      };
      history.push(record);
      epoch++;
      stepInEpoch = 0;
      hooks.onEpoch?.(record);
      // Ties go to the later epoch: on a small validation set MAP@R saturates early, and a tie says "no worse, trained longer".
      if (!best || scores.mapAtR > best.mapAtR) lastImprovement = record.epoch;
      if (!best || scores.mapAtR >= best.mapAtR) {
        best = { epoch: record.epoch, mapAtR: scores.mapAtR };
        bestWeights = readWeights(trainable);
        await saveCheckpoint(bestDir, trainable.tower, { state: { epoch: best.epoch, mapAtR: best.mapAtR }, weights: bestWeights });
      }
      await checkpoint();
      if (options.patience > 0 && best && epoch - lastImprovement >= options.patience) {
        log(`early stop: validation MAP@R has not improved for ${options.patience} epochs (best ${best.mapAtR.toFixed(4)}, kept from epoch ${best.epoch})`);
        outcome = 'early-stopped';
        break;
      }
    }
    if (outcome === 'interrupted') {
      await checkpoint();
      return { outcome, history, backend: backendInfo.name, checkpointDir };
    }
    if (!history.length) {
      // Stopped by the time limit before the first epoch ended: validate what we have.
      const { scores, valLoss } = await validate();
      history.push({ epoch: epoch + 1, step, trainLoss: NaN, valLoss, val: scores, learningRate: 0, seconds: elapsed(), pairsPerSecond: 0 });
      best = { epoch: epoch + 1, mapAtR: scores.mapAtR };
      bestWeights = readWeights(trainable);
    }
  } finally {
    await source.close();
  }

  // The kept weights become the model: the best epoch's or the final ones. Calibrate them on the held-out identities.
  const keepBest = options.keepWeights === 'best';
  const keptEpoch = keepBest ? (best?.epoch ?? 0) : epoch;
  if (keepBest) assignWeights(trainable, bestWeights);
  let towerConfig = options.tower;
  if (options.center) {
    const sample = centerSample(set.labels, split.train);
    const center = await meanEmbedding(trainable.tower, set.data, shape, sample, uncentred);
    towerConfig = { ...options.tower, center };
    log(`centred the embeddings on the mean of ${sample.length} training images (its length: ${Math.hypot(...center).toFixed(3)})`);
  }
  const final = await validate({ ...uncentred, center: towerConfig.center });
  const { distances } = final;
  // Checkpoints written before the option existed lack targetFpir.
  const heldOut = calibrateHeldOut(final.vectors, final.dim, val.labels, distances, final.scores, { targetFars: options.targetFars, targetFpir: options.targetFpir ?? DEFAULT_TRAIN_OPTIONS.targetFpir });
  const { calibration } = heldOut;
  log(describeOpenSet(heldOut.openSet));
  const summary = towerSummary(trainable.tower);
  const wallSeconds = elapsed();
  const card = await saveModel(options.out, trainable.tower, {
    name: path.basename(path.resolve(options.out)),
    preprocess: options.preprocess,
    tower: towerConfig,
    inputShape: [...shape],
    embeddingSize: final.dim,
    metric: 'l2',
    loss: {
      name: options.loss, margin: options.margin,
      ...(trainable.scale ? { scale: trainable.scale.dataSync()[0]! } : trainable.proxies ? { scale: options.scale, proxies: trainable.proxies.shape[0] } : {}),
    },
    thresholds: heldOut.thresholds,
    validation: { ...heldOut.validation, bestEpoch: keptEpoch },
    training: {
      backend: backendInfo.name, workers: workerCount, seed: options.seed, epochs: epoch, steps: step,
      batchSize: options.batchImages, learningRate: options.learningRate, wallSeconds, pairsPerSecond: history.at(-1)?.pairsPerSecond ?? 0, outcome,
      trainIdentities: split.train.length, valIdentities: split.val.length, images: set.count, dataDigest, dataRoot: path.resolve(options.data),
      augment: options.augment, ...(keepBest ? {} : { keepWeights: options.keepWeights }), rotateIdentities: options.rotateIdentities,
      // Written only when images were left out, so other cards stay as they were.
      ...(set.skipped.length > 0 ? { skipped: skippedForCard(gallery, set.skipped) } : {}),
    },
    parameters: summary.parameters,
  });
  await writePlots(options.out, {
    history: history.map((h) => ({ epoch: h.epoch, step: h.step, trainLoss: h.trainLoss, valLoss: h.valLoss })),
    calibration,
    same: distances.same,
    different: distances.different,
    roc: rocCurve(distances.same, distances.different),
  });
  trainable.tower.dispose();
  trainable.scale?.dispose();
  trainable.proxies?.dispose();
  optimizer.dispose();
  return { outcome, card, calibration, history, backend: backendInfo.name, checkpointDir };
}
