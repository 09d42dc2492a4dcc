/**
 * model-card.json: everything needed to use a trained tower correctly (preprocessing, metric,
 * calibrated thresholds) and to judge it (validation scores, training provenance), next to the
 * weights it describes. Objects are parsed loosely (unknown keys kept) so later versions can add fields.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { LossName, Metric, PreprocessConfig, TowerArch, TowerConfig } from './config.js';
import { faceStageSchema, pretrainedTowerSchema, type FaceStageSpec, type PretrainedTowerSpec } from './face-card.js';

export const MODEL_CARD_FORMAT = 'twinsearch-model-card/1';
export const WEIGHTS_FILE = 'weights.bin';

export interface OperatingPoint {
  /** Distance threshold: a pair with distance <= threshold is called "same". */
  threshold: number;
  /** Measured false accept rate (different pairs accepted) at this threshold. */
  far: number;
  /** Measured true accept rate (same pairs accepted) at this threshold. */
  tar: number;
}

/**
 * The open-set (1:N identification) operating point, measured with held-out identities as strangers
 * against a gallery of the others (see src/train/open-set.ts). When present, it is the default threshold.
 */
export interface OpenSetPoint {
  /** Accept the nearest identity when its distance <= threshold. */
  threshold: number;
  /** False-positive identification rate measured at the threshold: strangers matched to anyone (never above targetFpir). */
  fpir: number;
  /** True identification rate measured at the threshold: known probes whose nearest identity is right and within it. */
  tir: number;
  targetFpir: number;
  /** Identities in the gallery each stranger was searched in. */
  galleryIdentities: number;
  knownProbes: number;
  /** Stranger probes (images) and the identities they came from. */
  strangers: number;
  strangerIdentities: number;
  /** Present when the data are too few for the measured rates to hold for other people. */
  warning?: string;
}

/** The tower as a card records it: a trained tower (config.ts), or `arch: 'pretrained'` with its `pretrained` block. */
export type CardTower = Omit<TowerConfig, 'arch' | 'filters'> & {
  arch: TowerArch | 'pretrained';
  /** Trained towers only. */
  filters?: number;
  /** `arch: 'pretrained'` only: where the weights come from (package, version, files + sha256). */
  pretrained?: PretrainedTowerSpec;
};

/** Preprocessing as a card records it: a face model adds its face stage (detect → landmarks → align). */
export type CardPreprocess = PreprocessConfig & {
  /** Face models only: the face stage that cuts the aligned chip the tower sees (width x height = the chip). */
  face?: FaceStageSpec;
};

export interface ModelCard {
  format: typeof MODEL_CARD_FORMAT;
  /** `<name>-<first 12 hex of the weights' sha256>`. */
  modelId: string;
  /** ISO 8601 time the model was saved. */
  createdAt: string;
  preprocess: CardPreprocess;
  tower: CardTower;
  /** [height, width, channels]; equals [preprocess.height, preprocess.width, preprocess.channels]. */
  inputShape: [number, number, number];
  embeddingSize: number;
  /**
   * What "distance" means in thresholds and API answers: `l2` = Euclidean distance between the
   * embeddings (L2-normalised first when `tower.l2Normalize`); `cosine` = 1 - cosine similarity.
   */
  metric: Metric;
  /** `none`: nothing was trained (a pretrained tower used as published). */
  loss: { name: LossName | 'none'; margin?: number; scale?: number; [extra: string]: unknown };
  thresholds: {
    /** Equal error rate point. */
    eer: OperatingPoint;
    /** Points calibrated for target false accept rates. */
    atFar: Array<OperatingPoint & { targetFar: number }>;
    /** The threshold the API uses when a request does not give one: the open-set one when present. */
    default: number;
    /** Open-set calibration (identification against a gallery); absent in cards written before it existed. */
    openSet?: OpenSetPoint;
    /** Later additions (e.g. how `default` was chosen) are kept. */
    [extra: string]: unknown;
  };
  /** Held-out scores; extra numeric metrics (P@1, R-precision, ...) are allowed. */
  validation: {
    auc: number;
    eer: number;
    rank1?: number;
    mapAtR?: number;
    samePairs: number;
    differentPairs: number;
    [metric: string]: number | undefined;
  };
  training: {
    backend: string;
    seed: number;
    epochs: number;
    steps: number;
    batchSize: number;
    learningRate: number;
    wallSeconds: number;
    pairsPerSecond?: number;
    trainIdentities: number;
    valIdentities: number;
    images: number;
    /** Digest of the training data listing (see src/data/gallery.ts). */
    dataDigest: string;
    dataRoot?: string;
    /**
     * Images left out because they could not be used (`--skip-unreadable`): path relative to the
     * gallery, stable code (CORRUPT_IMAGE, IMAGE_TOO_LARGE, ...) and reason. Absent when none was.
     */
    skipped?: Array<{ file: string; code: string; reason: string }>;
    /** Run details beyond these (workers, augmentation settings, outcome...) are kept. */
    [extra: string]: unknown;
  };
  /** The trained weights; absent for a pretrained tower without a trained part (its files are in `tower.pretrained`). */
  weights?: { file: typeof WEIGHTS_FILE; sha256: string };
  /** Number of parameters of the tower. */
  parameters: number;
}

/** A card of a trained tower: its weights file is always there. */
export type TrainedModelCard = ModelCard & { weights: NonNullable<ModelCard['weights']> };

// Keep the enums in step with config.ts: these fail to compile if a name is added there and not here.
const TOWER_ARCHS = ['conv4', 'writeup', 'koch'] as const satisfies readonly TowerArch[];
const LOSS_NAMES = ['contrastive', 'euclidean', 'triplet', 'npair', 'cosface'] as const satisfies readonly LossName[];
const METRICS = ['l2', 'cosine'] as const satisfies readonly Metric[];
type Missing<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : never;
const allListed: [Missing<TowerArch, (typeof TOWER_ARCHS)[number]>, Missing<LossName, (typeof LOSS_NAMES)[number]>, Missing<Metric, (typeof METRICS)[number]>] = [true, true, true];
void allListed;

const finite = z.number().finite();
const nonNegative = finite.min(0);
const rate = finite.min(0).max(1);
const count = z.number().int().min(0);
const positiveInt = z.number().int().min(1);

export const preprocessSchema = z
  .object({
    width: positiveInt,
    height: positiveInt,
    channels: z.union([z.literal(1), z.literal(3)]),
    fit: z.enum(['fill', 'contain', 'cover']),
    invert: z.boolean(),
    mean: finite,
    std: finite.positive(),
    standardize: z.boolean().optional(),
    crop: z.object({ left: rate, top: rate, width: rate, height: rate }).optional(),
    face: faceStageSchema.optional(),
  })
  .loose();

export const towerSchema = z
  .object({
    arch: z.enum([...TOWER_ARCHS, 'pretrained']),
    embeddingSize: positiveInt,
    filters: positiveInt.optional(),
    l2Normalize: z.boolean(),
    // Older cards may name the tower's defaults, a flatten head and no dropout; other values were removed options.
    head: z.literal('flatten', { error: 'the gap head is no longer supported: retrain the model with the default flatten head' }).optional(),
    dropout: z.literal(0, { error: 'dropout is no longer supported: retrain the model without it' }).optional(),
    flipAverage: z.boolean().optional(),
    center: z.array(finite).optional(),
    pretrained: pretrainedTowerSchema.optional(),
  })
  .loose();

const operatingPoint = z.object({ threshold: finite, far: rate, tar: rate }).loose();

export const openSetSchema = z
  .object({
    threshold: finite,
    fpir: rate,
    tir: rate,
    targetFpir: rate,
    galleryIdentities: count,
    knownProbes: count,
    strangers: count,
    strangerIdentities: count,
    warning: z.string().optional(),
  })
  .loose();

export const modelCardSchema = z
  .object({
    format: z.literal(MODEL_CARD_FORMAT),
    modelId: z.string().min(1),
    createdAt: z.iso.datetime({ offset: true }),
    preprocess: preprocessSchema,
    tower: towerSchema,
    inputShape: z.tuple([positiveInt, positiveInt, z.union([z.literal(1), z.literal(3)])]),
    embeddingSize: positiveInt,
    metric: z.enum(METRICS),
    loss: z.object({ name: z.enum([...LOSS_NAMES, 'none']), margin: finite.optional(), scale: finite.optional() }).loose(),
    thresholds: z
      .object({
        eer: operatingPoint,
        atFar: z.array(operatingPoint.extend({ targetFar: rate })),
        default: finite,
        openSet: openSetSchema.optional(),
      })
      .loose(),
    validation: z
      .object({
        auc: rate,
        eer: rate,
        rank1: rate.optional(),
        mapAtR: rate.optional(),
        samePairs: count,
        differentPairs: count,
      })
      .catchall(finite),
    training: z
      .object({
        backend: z.string().min(1),
        seed: z.number().int(),
        epochs: count,
        steps: count,
        batchSize: positiveInt,
        learningRate: nonNegative,
        wallSeconds: nonNegative,
        pairsPerSecond: nonNegative.optional(),
        trainIdentities: count,
        valIdentities: count,
        images: count,
        dataDigest: z.string().min(1),
        dataRoot: z.string().optional(),
        skipped: z.array(z.object({ file: z.string().min(1), code: z.string().min(1), reason: z.string() }).loose()).optional(),
      })
      .loose(),
    weights: z.object({ file: z.literal(WEIGHTS_FILE), sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256') }).loose().optional(),
    parameters: positiveInt,
  })
  .loose()
  .superRefine((card, ctx) => {
    const { height, width, channels } = card.preprocess;
    if (card.inputShape.join() !== [height, width, channels].join()) {
      ctx.addIssue({ code: 'custom', path: ['inputShape'], message: `must equal [preprocess.height, preprocess.width, preprocess.channels] = [${height}, ${width}, ${channels}]` });
    }
    if (card.embeddingSize !== card.tower.embeddingSize) {
      ctx.addIssue({ code: 'custom', path: ['embeddingSize'], message: `must equal tower.embeddingSize (${card.tower.embeddingSize})` });
    }
    const { center } = card.tower;
    if (center && center.length !== card.embeddingSize) {
      ctx.addIssue({ code: 'custom', path: ['tower', 'center'], message: `must hold embeddingSize (${card.embeddingSize}) numbers, got ${center.length}` });
    }
    if (center && !card.tower.l2Normalize) {
      ctx.addIssue({ code: 'custom', path: ['tower', 'center'], message: 'needs tower.l2Normalize: it is the mean of unit embeddings' });
    }
    const pretrained = card.tower.arch === 'pretrained';
    if (pretrained !== (card.tower.pretrained !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['tower', 'pretrained'], message: pretrained ? "arch 'pretrained' needs the pretrained block" : "only arch 'pretrained' takes a pretrained block" });
    }
    if (!pretrained && card.tower.filters === undefined) ctx.addIssue({ code: 'custom', path: ['tower', 'filters'], message: 'a trained tower needs filters' });
    if (!pretrained && !card.weights) ctx.addIssue({ code: 'custom', path: ['weights'], message: 'a trained tower needs its weights file' });
    if (pretrained && card.tower.pretrained && card.tower.pretrained.dim !== card.tower.embeddingSize && !card.weights) {
      ctx.addIssue({ code: 'custom', path: ['tower', 'pretrained', 'dim'], message: `must equal tower.embeddingSize (${card.tower.embeddingSize}) when nothing trained sits on top` });
    }
  });

/**
 * The hash that stands for a model's weights in index manifests: the trained weights' sha256, or, for
 * a pretrained tower without trained weights, a digest of every pretrained and face-stage file's sha256
 * (so a different package build re-embeds the gallery).
 *
 * @example
 * weightsHashOf(card); // '9c1f…' (64 hex)
 */
export function weightsHashOf(card: Pick<ModelCard, 'weights' | 'tower' | 'preprocess'>): string {
  if (card.weights) return card.weights.sha256;
  const files = [...(card.preprocess.face?.files ?? []), ...(card.tower.pretrained?.files ?? [])].map((f) => `${f.package}@${f.version}/${f.file}:${f.sha256}`);
  return createHash('sha256').update(files.join('\n')).digest('hex');
}

/** Whether a card describes a face model (a face stage in preprocessing). */
export const isFaceCard = (card: Pick<ModelCard, 'preprocess'>): boolean => card.preprocess.face !== undefined;

/** A model card that failed validation; `message` lists every problem with its path. */
export class ModelCardError extends Error {
  readonly issues: z.core.$ZodIssue[];

  constructor(message: string, issues: z.core.$ZodIssue[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelCardError';
    this.issues = issues;
  }
}

/**
 * Validates a model card (an object, or its JSON text) and returns it typed. Unknown keys are kept.
 *
 * @throws ModelCardError listing each invalid field, e.g. "thresholds.eer.far: Too big: expected number to be <=1"
 * @example
 * const card = parseModelCard(await readFile('models/omniglot/model-card.json', 'utf8'));
 */
export function parseModelCard(json: unknown): ModelCard {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new ModelCardError(`Invalid model card: not JSON (${err instanceof Error ? err.message : String(err)})`, [], { cause: err });
    }
  }
  const result = modelCardSchema.safeParse(value);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => `  ${issue.path.map(String).join('.') || '(card)'}: ${issue.message}`);
    throw new ModelCardError(`Invalid model card:\n${lines.join('\n')}`, result.error.issues);
  }
  return result.data;
}
