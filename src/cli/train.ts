/**
 * `npm run train -- --data DIR --out DIR [flags]`: trains a twin network on a gallery folder and
 * writes the model directory (weights, model-card.json, plots). Ctrl-C saves a checkpoint; `--resume` continues.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CropRegion, LossName, TowerArch } from '../model/config.js';
import { parseBackendPreference } from '../model/backend.js';
import { KOCH_AFFINE_RANGES, STRONG_AFFINE_RANGES, type AffineRanges } from '../data/augment.js';
import { COSFACE_DEFAULTS, DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../train/options.js';
import { train } from '../train/loop.js';
import { describeDefaultThreshold } from '../train/calibrate.js';
import { DEFAULT_LIMIT_INPUT_PIXELS } from '../data/preprocess.js';
import { buildFaceModel } from '../train/faces.js';
import { describeOpenSet } from '../train/open-set.js';
import { applyPreset, PRESETS } from './presets.js';
import { parseCrop, parseFarList, parseFraction, parseInteger, parseNumber, parsePositiveInteger, parseSize, progressBar, say } from './common.js';

const d = DEFAULT_TRAIN_OPTIONS;

export function trainCommand(): Command {
  return new Command('train')
    .description('Train a Siamese (twin) network on a gallery folder (one sub-folder per identity).')
    .requiredOption('--data <dir>', 'gallery root: every folder holding images is one identity')
    .requiredOption('--out <dir>', 'model directory to write')
    .addOption(new Option('--preset <name>', `the best recipe measured for a kind of image; flags given override its values. ${Object.entries(PRESETS).map(([n, p]) => `${n}: ${p.summary}`).join('. ')}`).choices(Object.keys(PRESETS)))
    .option('--include-identities <regex>', 'train only on identities whose name matches')
    .option('--exclude-identities <regex>', 'leave out identities whose name matches')
    .addOption(new Option('--loss <name>', 'training loss').choices(['contrastive', 'euclidean', 'triplet', 'npair', 'cosface']).default(d.loss))
    .option('--margin <m>', `margin of the contrastive / Euclidean / triplet loss (embeddings are unit vectors: distances 0..2; default ${d.margin}), or the cosine margin of the cosface loss (default ${COSFACE_DEFAULTS.margin})`, parseNumber)
    .option('--scale <s>', `logit scale: initial (then learned) for npair (default ${d.scale}), fixed for cosface (default ${COSFACE_DEFAULTS.scale})`, parseNumber)
    .addOption(new Option('--arch <name>', 'tower architecture').choices(['conv4', 'writeup', 'koch']).default(d.tower.arch))
    .option('--input-size <size>', 'input size: 28 or WIDTHxHEIGHT', parseSize, [d.preprocess.width, d.preprocess.height] as [number, number])
    .addOption(new Option('--channels <n>', 'input channels').choices(['1', '3']).default(String(d.preprocess.channels)))
    .addOption(new Option('--fit <mode>', 'how images are fitted to the input size').choices(['fill', 'contain', 'cover']).default(d.preprocess.fit))
    .option('--invert', 'invert intensities (dark ink on white paper becomes bright on dark)', d.preprocess.invert)
    .option('--crop <l,t,w,h>', 'keep only this region before resizing, as fractions of width / height (e.g. 0.1,0.15,0.8,0.75: the face without hair and background); saved in the model card', parseCrop)
    .option('--standardize', 'standardise each image to zero mean and unit variance (evens out lighting)', false)
    .option('--embedding-size <n>', 'embedding dimension', parsePositiveInteger, d.tower.embeddingSize)
    .option('--filters <n>', 'filters of the first conv layer', parsePositiveInteger, d.tower.filters)
    .option('--no-l2', 'do not L2-normalise embeddings')
    .option('--flip-average', 'embed every image as the mean of its and its mirror\'s embeddings, in validation, calibration, indexing and serving (faces, products; not characters); twice the embedding cost', false)
    .addOption(
      new Option('--center', 'once training ends, subtract the training images\' mean embedding wherever the model embeds (saved in the model card as tower.center): distances weigh what tells identities apart; needs L2-normalised embeddings')
        .default(false)
        .conflicts('l2'),
    )
    .option('--epochs <n>', 'maximum epochs', parsePositiveInteger, d.epochs)
    .option('--batch <n>', 'images per step (pairs x 2, or P x K)', parsePositiveInteger, d.batchImages)
    .option('--samples-per-identity <k>', 'K of the P x K batches of the triplet and cosface losses', parsePositiveInteger, d.samplesPerIdentity)
    .option('--steps-per-epoch <n>', 'steps per epoch (0: one pass over the training images)', parseInteger, d.stepsPerEpoch)
    .option('--lr <rate>', 'Adam learning rate', parseNumber, d.learningRate)
    .option('--lr-final <fraction>', 'cosine-decay the learning rate to this fraction of --lr', parseNumber, d.finalLearningRateFraction)
    .option('--minutes <n>', 'stop after this many minutes (the schedule follows time)', parseNumber, d.timeLimitMinutes)
    .option('--val-fraction <f>', 'fraction of identities held out for validation and calibration', parseFraction, d.valFraction)
    .option('--seed <n>', 'random seed', parseInteger, d.seed)
    .option('--backend <name>', 'tfjs backend: auto, node, wasm or cpu (env TWINSEARCH_BACKEND)')
    .option('--workers <n>', 'gradient worker threads (-1: one per core unless tfjs-node)', parseInteger, d.workers)
    .addOption(new Option('--augment [strength]', 'random affine distortions: koch (Koch et al. 2015, for characters) or strong (poses: faces, products)').choices(['koch', 'strong']).preset('koch'))
    .option('--flip', 'random left-right mirrors (faces, products; not characters)', false)
    .option('--rotate-identities', 'each right-angle rotation of an identity is a new identity', d.rotateIdentities)
    .option('--patience <n>', 'early stopping: epochs without validation MAP@R gain (0 = off)', parseInteger, d.patience)
    .addOption(new Option('--keep-weights <which>', 'weights saved as the model: best (epoch with the best validation MAP@R) or last (final epoch)').choices(['best', 'last']).default(d.keepWeights))
    .option('--target-far <list>', 'false-accept rates of pairs to calibrate at (reported in the model card)', parseFarList, d.targetFars)
    .option('--target-fpir <rate>', 'share of strangers a search may match to someone: the default threshold is calibrated at it, with held-out identities as strangers', parseFpir, d.targetFpir)
    .option('--max-val-images <n>', 'cap on validation images', parsePositiveInteger, d.maxValImages)
    .option('--skip-unreadable', 'leave out images that cannot be used (corrupt, unsupported, empty, over the pixel limit, unreadable) with a warning, and list them in the model card, instead of failing', false)
    .option('--max-input-pixels <n>', `largest image accepted, in decoded pixels (width x height; default ${DEFAULT_LIMIT_INPUT_PIXELS}): a guard against decompression bombs`, parsePositiveInteger)
    .option('--resume', 'continue from <out>/checkpoint', false);
}

const percent = (rate: number): string => `${(rate * 100).toFixed(1)}%`;

/** A rate in (0, 1). */
function parseFpir(value: string): number {
  const n = parseNumber(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`"${value}" must be a rate in (0, 1), e.g. 0.01`);
  return n;
}

/**
 * The augmentation of `--augment [koch|strong]` and `--flip`; null when neither is given. `--flip`
 * without `--augment` mirrors but does not distort.
 */
export function affineRanges(strength: 'koch' | 'strong' | undefined, flip: boolean): AffineRanges | null {
  if (!strength && !flip) return null;
  const ranges = strength === 'strong' ? STRONG_AFFINE_RANGES : KOCH_AFFINE_RANGES;
  return { ...ranges, probability: strength ? ranges.probability : 0, flipProbability: flip ? 0.5 : 0 };
}

type Flags = ReturnType<ReturnType<typeof trainCommand>['opts']>;

/** Turns parsed flags into training options. */
export function optionsFromFlags(f: Flags): TrainOptions {
  const [width, height] = f.inputSize as [number, number];
  return {
    ...d,
    data: f.data as string,
    out: f.out as string,
    includeIdentities: f.includeIdentities as string | undefined,
    excludeIdentities: f.excludeIdentities as string | undefined,
    preprocess: { ...d.preprocess, width, height, channels: Number(f.channels) as 1 | 3, fit: f.fit as 'fill' | 'contain' | 'cover', invert: !!f.invert, standardize: !!f.standardize, ...(f.crop ? { crop: f.crop as CropRegion } : {}) },
    tower: {
      arch: f.arch as TowerArch,
      embeddingSize: f.embeddingSize as number,
      filters: f.filters as number,
      l2Normalize: f.l2 !== false,
      // Written only when on, so cards (and model ids) of default towers stay as they were.
      ...(f.flipAverage ? { flipAverage: true } : {}),
    },
    loss: f.loss as LossName,
    margin: (f.margin as number | undefined) ?? (f.loss === 'cosface' ? COSFACE_DEFAULTS.margin : d.margin),
    scale: (f.scale as number | undefined) ?? (f.loss === 'cosface' ? COSFACE_DEFAULTS.scale : d.scale),
    batchImages: f.batch as number,
    samplesPerIdentity: f.samplesPerIdentity as number,
    epochs: f.epochs as number,
    stepsPerEpoch: f.stepsPerEpoch as number,
    learningRate: f.lr as number,
    finalLearningRateFraction: f.lrFinal as number,
    timeLimitMinutes: f.minutes as number,
    valFraction: f.valFraction as number,
    seed: f.seed as number,
    backend: parseBackendPreference(f.backend as string | undefined),
    workers: f.workers as number,
    augment: affineRanges(f.augment as 'koch' | 'strong' | undefined, !!f.flip),
    rotateIdentities: !!f.rotateIdentities,
    patience: f.patience as number,
    keepWeights: f.keepWeights as TrainOptions['keepWeights'],
    ...(f.center ? { center: true } : {}),
    targetFars: f.targetFar as number[],
    targetFpir: f.targetFpir as number,
    maxValImages: f.maxValImages as number,
    onUnreadable: f.skipUnreadable ? 'skip' : 'fail',
    // Written only when given, so checkpoints of runs without it keep their options.
    ...(f.maxInputPixels ? { maxInputPixels: f.maxInputPixels as number } : {}),
    resume: !!f.resume,
  };
}

async function main(argv: string[]): Promise<number> {
  const command = trainCommand().parse(argv, { from: 'user' });
  const preset = applyPreset(command);
  const options = optionsFromFlags(command.opts());
  if (preset === 'faces') return faces(options);

  // First Ctrl-C: finish the step, checkpoint, exit. Second: exit at once.
  // A signal relayed twice by a wrapper (npm, tsx) within a moment counts once.
  let stopRequested = 0;
  process.on('SIGINT', () => {
    if (stopRequested && Date.now() - stopRequested > 1000) process.exit(130);
    if (stopRequested) return;
    stopRequested = Date.now();
    say('\nstopping after this step: saving a checkpoint (Ctrl-C again to quit at once)');
  });

  const loadBar = progressBar('loading images [{bar}] {value}/{total} | ETA {eta_formatted}');
  const bar = progressBar('epoch {epoch} [{bar}] {value}/{total} | loss {loss} | {pps} pairs/s | lr {lr} | ETA {eta_formatted}');
  let barEpoch = -1;
  const result = await train(options, {
    log: (m) => say(m),
    shouldStop: () => stopRequested > 0,
    onLoadProgress: (done, total) => {
      if (done === 0 || !loadBar.isActive) loadBar.start(total, done);
      loadBar.update(done);
      if (done === total) loadBar.stop();
    },
    onStep: (e) => {
      if (barEpoch !== e.epoch) {
        if (barEpoch >= 0) bar.stop();
        bar.start(e.stepsPerEpoch, 0, { epoch: `${e.epoch + 1}/${options.epochs}`, loss: '-', pps: '-', lr: '-' });
        barEpoch = e.epoch;
      }
      bar.update(e.stepInEpoch, { loss: e.loss.toFixed(4), pps: e.pairsPerSecond.toFixed(0), lr: e.learningRate.toExponential(1) });
    },
    onEpoch: (r) => {
      bar.stop();
      barEpoch = -1;
      say(
        `epoch ${r.epoch}: train loss ${r.trainLoss.toFixed(4)}, val loss ${r.valLoss.toFixed(4)}, val AUC ${r.val.auc.toFixed(4)}, ` +
          `EER ${(r.val.eer * 100).toFixed(2)}%, rank-1 ${(r.val.rank1 * 100).toFixed(2)}%, MAP@R ${r.val.mapAtR.toFixed(4)}, ${r.pairsPerSecond.toFixed(0)} pairs/s`,
      );
    },
  });
  bar.stop();
  if (result.outcome === 'interrupted') {
    say(`interrupted: checkpoint saved in ${result.checkpointDir}; continue with --resume`);
    return 130;
  }
  const card = result.card!;
  say(
    `model ${card.modelId} written to ${options.out} (${result.outcome}, ${card.training.wallSeconds.toFixed(0)} s on ${result.backend}); ` +
      `validation AUC ${card.validation.auc.toFixed(4)}, EER ${((card.validation.eer as number) * 100).toFixed(2)}%`,
  );
  // Last: the threshold the API will serve with, and why that one (the open-set one when calibrated).
  const openSet = card.thresholds.openSet;
  say(
    openSet
      ? `threshold ${openSet.threshold.toFixed(4)} for searches: the largest at which at most ${percent(openSet.targetFpir)} of strangers were matched to someone ` +
          `(measured ${percent(openSet.fpir)}, and ${percent(openSet.tir)} of known people found)${openSet.warning ? '; too little data to vouch for it (see the WARNING above)' : ''}`
      : describeDefaultThreshold(result.calibration!),
  );
  return 0;
}

/** `--preset faces`: no tower to train; describe every face once and calibrate (src/train/faces.ts). */
async function faces(options: TrainOptions): Promise<number> {
  const bar = progressBar('describing faces [{bar}] {value}/{total} | ETA {eta_formatted}');
  const { card, calibration } = await buildFaceModel(options, {
    log: (m) => say(m),
    onLoadProgress: (done, total) => {
      if (!bar.isActive) bar.start(total, done);
      bar.update(done);
      if (done === total) bar.stop();
    },
  });
  bar.stop();
  say(describeOpenSet(calibration.openSet));
  say(
    `model ${card.modelId} written to ${options.out} (the pretrained face tower, calibrated on ${card.training.valIdentities} identities, ${card.training.images} faces); ` +
      `threshold ${card.thresholds.default.toFixed(4)} (${card.thresholds.defaultSource}); pair EER ${((card.validation.eer as number) * 100).toFixed(2)}%, rank-1 ${(((card.validation.rank1 as number) ?? 0) * 100).toFixed(2)}%`,
  );
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      say(`train: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
