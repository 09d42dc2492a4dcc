/**
 * `npm run train -- --data DIR --out DIR [flags]`: trains a twin network on a gallery folder and
 * writes the model directory (weights, model-card.json, plots). Ctrl-C saves a checkpoint; `--resume` continues.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { CropRegion, LossName, TowerArch } from '../model/config.js';
import { parseBackendPreference } from '../model/backend.js';
import { ERASE_DEFAULTS, KOCH_AFFINE_RANGES, STRONG_AFFINE_RANGES, type AffineRanges, type EraseRanges, type PhotometricRanges } from '../data/augment.js';
import { COSFACE_DEFAULTS, DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../train/options.js';
import { train } from '../train/loop.js';
import { buildFaceModel } from '../train/faces.js';
import { describeOpenSet } from '../train/open-set.js';
import { applyPreset, PRESETS } from './presets.js';
import { parseCrop, parseFarList, parseFraction, parseInteger, parseNonNegative, parseNumber, parseNumberList, parsePositiveInteger, parseSize, parseUnitInterval, progressBar, say } from './common.js';

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
    .addOption(new Option('--head <kind>', 'conv4: last feature map to vector by flatten or gap (global average pooling)').choices(['flatten', 'gap']).default('flatten'))
    .option('--dropout <rate>', 'dropout before the embedding projection, training only (0 = off)', parseFraction, 0)
    .option('--flip-average', 'embed every image as the mean of its and its mirror\'s embeddings, in validation, calibration, indexing and serving (faces, products; not characters); twice the embedding cost', false)
    .addOption(
      new Option('--center', 'once training ends, subtract the training images\' mean embedding wherever the model embeds (saved in the model card as tower.center): distances weigh what tells identities apart; needs L2-normalised embeddings')
        .default(false)
        .conflicts('l2'),
    )
    .option('--epochs <n>', 'maximum epochs', parsePositiveInteger, d.epochs)
    .option('--batch <n>', 'images per step (pairs x 2, or P x K)', parsePositiveInteger, d.batchImages)
    .option('--samples-per-identity <k>', 'K of the P x K batches of the triplet loss', parsePositiveInteger, d.samplesPerIdentity)
    .option('--steps-per-epoch <n>', 'steps per epoch (0: one pass over the training images)', parseInteger, d.stepsPerEpoch)
    .option('--lr <rate>', 'Adam learning rate', parseNumber, d.learningRate)
    .option('--weight-decay <wd>', 'decoupled weight decay of conv / dense kernels per step, times the learning rate (AdamW; 0 = off)', parseNonNegative, d.weightDecay)
    .option('--lr-final <fraction>', 'cosine-decay the learning rate to this fraction of --lr', parseNumber, d.finalLearningRateFraction)
    .option('--minutes <n>', 'stop after this many minutes (the schedule follows time)', parseNumber, d.timeLimitMinutes)
    .option('--val-fraction <f>', 'fraction of identities held out for validation and calibration', parseFraction, d.valFraction)
    .option('--seed <n>', 'random seed', parseInteger, d.seed)
    .option('--backend <name>', 'tfjs backend: auto, node, wasm or cpu (env TWINSEARCH_BACKEND)')
    .option('--workers <n>', 'gradient worker threads (-1: one per core unless tfjs-node)', parseInteger, d.workers)
    .addOption(new Option('--augment [strength]', 'random affine distortions: koch (Koch et al. 2015, for characters) or strong (poses: faces, products)').choices(['koch', 'strong']).preset('koch'))
    .option('--flip', 'random left-right mirrors (faces, products; not characters)', false)
    .option('--aug-rotation <deg>', 'with --augment: largest rotation either way, degrees (overrides the preset)', parseNonNegative)
    .option('--aug-scale <min,max>', 'with --augment: scale range, e.g. 0.85,1.2 (overrides the preset)', parseRange)
    .option('--aug-shift <fraction>', 'with --augment: largest shift either way, fraction of the size (overrides the preset)', parseNonNegative)
    .option('--aug-shear <s>', 'with --augment: largest shear factor either way (overrides the preset)', parseNonNegative)
    .option('--aug-isotropic', 'with --augment: zoom (one scale factor for x and y) instead of independent x / y scales', false)
    .option('--aug-probability <p>', 'with --augment: probability each distortion component is applied (overrides the preset)', parseUnitInterval)
    .option('--photometric <b,c,g[,s]>', 'random lighting: brightness offset (fraction of the range), contrast change, gamma change[, side-shading ramp], e.g. 0.1,0.2,0.3 or 0.1,0.2,0.3,0.4', parsePhotometric)
    .option('--erase <p[,min,max]>', 'random erasing: probability an image gets a rectangle of noise[, its area range as fractions of the image], e.g. 0.5 or 0.5,0.02,0.2', parseErase)
    .option('--rotate-identities', 'each right-angle rotation of an identity is a new identity', d.rotateIdentities)
    .option('--groups-per-batch <n>', 'draw each batch from this many parent folders (harder negatives; 0 = off)', parseInteger, d.groupsPerBatch)
    .option('--patience <n>', 'early stopping: epochs without validation MAP@R gain (0 = off)', parseInteger, d.patience)
    .addOption(new Option('--keep <weights>', 'weights saved as the model: best (epoch with the best validation MAP@R), last (final epoch) or average (mean of the epoch-end weights from --average-from on)').choices(['best', 'last', 'average']).default(d.keep))
    .option('--average-from <fraction>', 'with --keep average: fraction of the run after which epoch-end weights join the average', parseFraction, d.averageFrom)
    .option('--target-far <list>', 'false-accept rates of pairs to calibrate at (reported in the model card)', parseFarList, d.targetFars)
    .option('--target-fpir <rate>', 'share of strangers a search may match to someone: the default threshold is calibrated at it, with held-out identities as strangers', parseFpir, d.targetFpir)
    .option('--max-val-images <n>', 'cap on validation images', parsePositiveInteger, d.maxValImages)
    .option('--skip-unreadable', 'skip unreadable images with a warning instead of failing', false)
    .option('--init-from <dir>', 'start from the weights of a trained model of the same architecture (transfer learning)')
    .option('--resume', 'continue from <out>/checkpoint', false);
}

/** A rate in (0, 1). */
function parseFpir(value: string): number {
  const n = parseNumber(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`"${value}" must be a rate in (0, 1), e.g. 0.01`);
  return n;
}

/** "0.85,1.2" → [0.85, 1.2]: a positive, increasing range. */
function parseRange(value: string): [number, number] {
  const parts = parseNumberList(value);
  if (parts.length !== 2 || !(parts[0]! > 0) || parts[0]! > parts[1]!) throw new InvalidArgumentError(`"${value}" must be MIN,MAX with 0 < MIN <= MAX`);
  return [parts[0]!, parts[1]!];
}

/** "0.1,0.2,0.3[,0.4]" → brightness, contrast, gamma (and side-shading) ranges; contrast below 1 so the factor stays positive. */
function parsePhotometric(value: string): PhotometricRanges {
  const parts = parseNumberList(value);
  if ((parts.length !== 3 && parts.length !== 4) || parts.some((x) => x < 0) || parts[1]! >= 1) {
    throw new InvalidArgumentError(`"${value}" must be BRIGHTNESS,CONTRAST,GAMMA[,SHADING], each 0 or more, contrast below 1`);
  }
  return { brightness: parts[0]!, contrast: parts[1]!, gamma: parts[2]!, ...(parts[3] ? { shading: parts[3] } : {}) };
}

/** "0.5" or "0.5,0.02,0.2" → random-erasing ranges (the paper's area 0.02-0.4 and aspect 0.3-3.3 unless given). */
function parseErase(value: string): EraseRanges {
  const parts = parseNumberList(value);
  const [probability, min, max] = parts;
  const valid = (parts.length === 1 || parts.length === 3) && probability! >= 0 && probability! <= 1 && (min === undefined || (min > 0 && min <= max! && max! <= 1));
  if (!valid) throw new InvalidArgumentError(`"${value}" must be P or P,MIN,MAX with P in [0, 1] and 0 < MIN <= MAX <= 1`);
  return { ...ERASE_DEFAULTS, probability: probability!, ...(min === undefined ? {} : { area: [min, max!] as [number, number] }) };
}

/** Overrides of the preset's affine ranges (`--aug-rotation` etc.). */
export type AffineOverrides = Partial<Pick<AffineRanges, 'rotationDeg' | 'scale' | 'shift' | 'shear' | 'probability' | 'isotropic'>>;

/**
 * The augmentation of `--augment [koch|strong]`, `--flip`, the `--aug-*` overrides, `--photometric` and `--erase`;
 * null when none of them is given. Without `--augment` there are no affine distortions (overrides included).
 */
export function affineRanges(
  strength: 'koch' | 'strong' | undefined,
  flip: boolean,
  overrides: AffineOverrides = {},
  photometric?: PhotometricRanges,
  erase?: EraseRanges,
): AffineRanges | null {
  if (!strength && !flip && !photometric && !erase) return null;
  const ranges = { ...(strength === 'strong' ? STRONG_AFFINE_RANGES : KOCH_AFFINE_RANGES), ...(strength ? overrides : {}) };
  return {
    ...ranges,
    probability: strength ? ranges.probability : 0,
    flipProbability: flip ? 0.5 : 0,
    ...(photometric ? { photometric } : {}),
    ...(erase ? { erase } : {}),
  };
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
      // Written only when not the default, so cards of default towers stay as they were.
      ...(f.head === 'gap' ? { head: 'gap' as const } : {}),
      ...((f.dropout as number) > 0 ? { dropout: f.dropout as number } : {}),
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
    weightDecay: f.weightDecay as number,
    finalLearningRateFraction: f.lrFinal as number,
    timeLimitMinutes: f.minutes as number,
    valFraction: f.valFraction as number,
    seed: f.seed as number,
    backend: parseBackendPreference(f.backend as string | undefined),
    workers: f.workers as number,
    augment: affineRanges(
      f.augment as 'koch' | 'strong' | undefined,
      !!f.flip,
      Object.fromEntries(
        Object.entries({ rotationDeg: f.augRotation, scale: f.augScale, shift: f.augShift, shear: f.augShear, probability: f.augProbability, isotropic: f.augIsotropic ? true : undefined }).filter(([, v]) => v !== undefined),
      ) as AffineOverrides,
      f.photometric as PhotometricRanges | undefined,
      f.erase as EraseRanges | undefined,
    ),
    rotateIdentities: !!f.rotateIdentities,
    groupsPerBatch: f.groupsPerBatch as number,
    patience: f.patience as number,
    keep: f.keep as TrainOptions['keep'],
    ...(f.center ? { center: true } : {}),
    averageFrom: f.averageFrom as number,
    targetFars: f.targetFar as number[],
    targetFpir: f.targetFpir as number,
    maxValImages: f.maxValImages as number,
    onUnreadable: f.skipUnreadable ? 'skip' : 'fail',
    initFrom: f.initFrom as string | undefined,
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
      `threshold ${card.thresholds.default.toFixed(4)} (${card.thresholds.defaultSource}); validation AUC ${card.validation.auc.toFixed(4)}, EER ${((card.validation.eer as number) * 100).toFixed(2)}%`,
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
