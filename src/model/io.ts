/**
 * Saving and loading towers without tfjs-node: `model.json` (topology + weights manifest, the
 * standard tfjs layers format), `weights.bin` and `model-card.json`, every file written atomically.
 * The tower-file helpers are exported for training checkpoints (src/train/checkpoint.ts), which store a
 * tower the same way.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../util/atomic.js';
import { MODEL_CARD_FORMAT, ModelCardError, WEIGHTS_FILE, parseModelCard, type ModelCard, type TrainedModelCard } from './card.js';
import { embeddingSizeOf } from './embed.js';
import { inputShapeOf } from './tower.js';

export const MODEL_JSON_FILE = 'model.json';
export const MODEL_CARD_FILE = 'model-card.json';

export type ModelLoadErrorCode = 'MODEL_NOT_FOUND' | 'MODEL_CORRUPT' | 'CARD_INVALID';

/** Why a model (or checkpoint) directory could not be loaded; `code` is stable for callers to branch on. */
export class ModelLoadError extends Error {
  readonly code: ModelLoadErrorCode;
  readonly dir: string;

  constructor(code: ModelLoadErrorCode, dir: string, message: string, options?: { cause?: unknown }) {
    super(`${message} (${dir})`, options);
    this.name = 'ModelLoadError';
    this.code = code;
    this.dir = dir;
  }
}

/**
 * The card fields the caller decides; `saveModel` fills in the rest from the tower and its weights.
 * `inputShape`, `embeddingSize` and `parameters` may be given, and must then agree with the tower.
 */
export type ModelCardDraft = Omit<ModelCard, 'format' | 'modelId' | 'createdAt' | 'inputShape' | 'embeddingSize' | 'weights' | 'parameters'> & {
  /** Model name; the id becomes `<name>-<first 12 hex of the weights sha256>`. Letters, digits, `.`, `_`, `-`. */
  name: string;
  /** ISO 8601; default now. */
  createdAt?: string;
  inputShape?: [number, number, number];
  embeddingSize?: number;
  parameters?: number;
};

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** A tower as the bytes of its two files, and the sha256 of the weights. */
export interface SerialisedTower {
  modelJson: ModelJson;
  weights: Uint8Array;
  sha256: string;
}

/** Lowercase hex sha256 of some bytes. */
export const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** JSON with object keys sorted at every level, so equal values hash equally whatever their key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The hash behind a model id: the weights plus everything else that decides what a stored vector is
 * (preprocessing, the tower's embedding options such as `l2Normalize` and `flipAverage`, the metric).
 * The index re-embeds a gallery when the model id changes, so two cards with the same weights but
 * another embedding recipe must not share an id.
 */
export function embeddingRecipeHash(weightsSha256: string, card: Pick<ModelCard, 'preprocess' | 'tower' | 'metric'>): string {
  return createHash('sha256').update(canonicalJson({ weights: weightsSha256, preprocess: card.preprocess, tower: card.tower, metric: card.metric })).digest('hex');
}

/** Topology and weights of a tower, in memory (the save handler receives what `model.save` would write). */
export async function serialiseTower(tower: tf.LayersModel): Promise<SerialisedTower> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await tower.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.modelTopology || !artifacts.weightSpecs || artifacts.weightData === undefined) {
    throw new Error('tfjs returned no topology or weights for the tower');
  }
  // Newer tfjs may hand over the weights as several buffers: join them into one file.
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData));
  const modelJson: ModelJson = {
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
  };
  return { modelJson, weights, sha256: sha256Of(weights) };
}

/** Writes `weights.bin` then `model.json` into `dir` (created if needed), each atomically. */
export async function writeTowerFiles(dir: string, serialised: SerialisedTower): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, WEIGHTS_FILE), serialised.weights);
  await writeFileAtomic(join(dir, MODEL_JSON_FILE), `${JSON.stringify(serialised.modelJson)}\n`);
}

const jsonText = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function checkTowerMatches(tower: tf.LayersModel, card: Pick<ModelCard, 'preprocess' | 'tower'>): void {
  const expected = inputShapeOf(card.preprocess);
  const actual = tower.inputs[0].shape.slice(1);
  if (actual.join() !== expected.join()) throw new Error(`The tower takes ${actual.join('x')} inputs but preprocess gives ${expected.join('x')}`);
  const size = embeddingSizeOf(tower);
  if (size !== card.tower.embeddingSize) throw new Error(`The tower outputs ${size}-d embeddings but tower.embeddingSize is ${card.tower.embeddingSize}`);
}

/**
 * Saves a tower and its model card into `dir` (created if needed): `weights.bin`, `model.json`,
 * then `model-card.json` (written last, with the weights' sha256). Each file is replaced atomically;
 * to hot-swap a model that is being served, save into a new directory instead of over the old one.
 * The card is validated before anything is written.
 *
 * @returns the complete card as written
 * @example
 * const card = await saveModel('models/omniglot', tower, { name: 'omniglot', preprocess, tower: towerConfig, metric: 'l2', loss: { name: 'npair', scale: 25 }, thresholds, validation, training });
 * card.modelId; // 'omniglot-3f2a9c0d1e4b': the name and a hash of the weights and embedding recipe
 */
export async function saveModel(dir: string, tower: tf.LayersModel, draft: ModelCardDraft): Promise<TrainedModelCard> {
  const { name, createdAt, inputShape, embeddingSize, parameters, ...rest } = draft;
  if (!/^[\w.-]+$/.test(name)) throw new Error(`Model name "${name}" must be letters, digits, ".", "_" or "-"`);
  checkTowerMatches(tower, draft);
  const derived = { inputShape: inputShapeOf(draft.preprocess), embeddingSize: draft.tower.embeddingSize, parameters: tower.countParams() };
  const given = { inputShape, embeddingSize, parameters };
  for (const key of ['inputShape', 'embeddingSize', 'parameters'] as const) {
    if (given[key] !== undefined && JSON.stringify(given[key]) !== JSON.stringify(derived[key])) {
      throw new Error(`Card ${key} ${JSON.stringify(given[key])} does not match the tower (${JSON.stringify(derived[key])})`);
    }
  }
  const serialised = await serialiseTower(tower);
  const card = parseModelCard({
    format: MODEL_CARD_FORMAT,
    modelId: `${name}-${embeddingRecipeHash(serialised.sha256, draft).slice(0, 12)}`,
    createdAt: createdAt ?? new Date().toISOString(),
    ...rest,
    ...derived,
    weights: { file: WEIGHTS_FILE, sha256: serialised.sha256 },
  });
  await writeTowerFiles(dir, serialised);
  await writeFileAtomic(join(dir, MODEL_CARD_FILE), jsonText(card));
  return card as TrainedModelCard;
}

const isNotFound = (err: unknown): boolean => (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

async function requireDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  throw new ModelLoadError('MODEL_NOT_FOUND', dir, 'No model directory here');
}

/**
 * The text of the file that says what a directory holds (`model-card.json`, or a checkpoint's
 * `checkpoint.json`): `MODEL_NOT_FOUND` when the directory or that file is missing.
 */
export async function readDescriptor(dir: string, file: string, kind: 'model' | 'checkpoint'): Promise<string> {
  await requireDirectory(dir);
  try {
    return await readFile(join(dir, file), 'utf8');
  } catch (err) {
    if (isNotFound(err)) throw new ModelLoadError('MODEL_NOT_FOUND', dir, `No ${file} in the ${kind} directory`, { cause: err });
    throw err;
  }
}

/** Reads a file that must exist because the card or checkpoint refers to it. */
async function readRequired(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (err) {
    if (isNotFound(err)) throw new ModelLoadError('MODEL_CORRUPT', dir, `${file} is missing`, { cause: err });
    throw err;
  }
}

/** Reads a file the card or checkpoint refers to and checks its sha256 (`MODEL_CORRUPT` when missing or altered). */
export async function readVerified(dir: string, ref: { file: string; sha256: string }): Promise<Buffer> {
  const bytes = await readRequired(dir, ref.file);
  const actual = sha256Of(bytes);
  if (actual !== ref.sha256) throw new ModelLoadError('MODEL_CORRUPT', dir, `${ref.file} does not match its recorded sha256 (expected ${ref.sha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`);
  return bytes;
}

/** The bytes of a view as an ArrayBuffer of their own (tfjs wants whole buffers). */
export const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

/** Reads model.json + the (already verified) weights and builds the tower. */
export async function readTower(dir: string, weights: Uint8Array): Promise<tf.LayersModel> {
  let modelJson: ModelJson;
  try {
    modelJson = JSON.parse((await readRequired(dir, MODEL_JSON_FILE)).toString('utf8')) as ModelJson;
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError('MODEL_CORRUPT', dir, `${MODEL_JSON_FILE} is not valid JSON`, { cause: err });
  }
  const manifest = modelJson?.weightsManifest;
  if (!modelJson?.modelTopology || !Array.isArray(manifest) || manifest.length !== 1 || manifest[0].paths?.join() !== WEIGHTS_FILE) {
    throw new ModelLoadError('MODEL_CORRUPT', dir, `${MODEL_JSON_FILE} must hold a modelTopology and one weights group stored in ${WEIGHTS_FILE}`);
  }
  try {
    return await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: modelJson.modelTopology, weightSpecs: manifest[0].weights, weightData: toArrayBuffer(weights) }));
  } catch (err) {
    throw new ModelLoadError('MODEL_CORRUPT', dir, `tfjs could not build the model: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Reads and validates a model directory's card alone (what indexing and serving need before the
 * weights load, possibly in worker threads).
 *
 * @throws ModelLoadError `MODEL_NOT_FOUND` (no directory or no model-card.json), `CARD_INVALID`
 * @example
 * const card = await readModelCard('models/omniglot'); card.modelId // 'omniglot-3f2a9c0d1e4b'
 */
export async function readModelCard(dir: string): Promise<ModelCard> {
  const cardText = await readDescriptor(dir, MODEL_CARD_FILE, 'model');
  try {
    return parseModelCard(cardText);
  } catch (err) {
    if (err instanceof ModelCardError) throw new ModelLoadError('CARD_INVALID', dir, err.message, { cause: err });
    throw err;
  }
}

/**
 * Loads a tower saved by {@link saveModel}, checking the weights' sha256 and that the model
 * matches its card's input shape and embedding size.
 *
 * @throws ModelLoadError `MODEL_NOT_FOUND` (no directory or no model-card.json), `CARD_INVALID`
 *   (card fails validation), `MODEL_CORRUPT` (missing/altered weights.bin or model.json, or a mismatch)
 * @example
 * const { tower, card } = await loadModel('models/omniglot');
 * const vectors = embedImageSet(tower, images, count, card.inputShape, { l2Normalize: card.tower.l2Normalize });
 */
export async function loadModel(dir: string): Promise<{ tower: tf.LayersModel; card: TrainedModelCard }> {
  const card = await readModelCard(dir);
  if (!card.weights) throw new ModelLoadError('MODEL_CORRUPT', dir, `${MODEL_CARD_FILE} names no weights file: a pretrained tower loads with src/face (openEmbedder does)`);
  const weights = await readVerified(dir, card.weights);
  const tower = await readTower(dir, weights);
  try {
    checkTowerMatches(tower, card);
  } catch (err) {
    tower.dispose();
    throw new ModelLoadError('MODEL_CORRUPT', dir, `${MODEL_JSON_FILE} does not match ${MODEL_CARD_FILE}: ${(err as Error).message}`, { cause: err });
  }
  return { tower, card: card as TrainedModelCard };
}
