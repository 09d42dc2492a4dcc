/**
 * Saving and loading towers without tfjs-node: `model.json` (topology + weights manifest, the
 * standard tfjs layers format), `weights.bin` and `model-card.json`, every file written atomically.
 * Training checkpoints add `checkpoint.json` (+ `variables.bin`, `optimizer.bin`) next to the tower files.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic.js';
import { MODEL_CARD_FORMAT, ModelCardError, WEIGHTS_FILE, parseModelCard, type ModelCard, type TrainedModelCard } from './card.js';
import { embeddingSizeOf } from './embed.js';
import { inputShapeOf } from './tower.js';

export const MODEL_JSON_FILE = 'model.json';
export const MODEL_CARD_FILE = 'model-card.json';
export const CHECKPOINT_FILE = 'checkpoint.json';
export const OPTIMIZER_FILE = 'optimizer.bin';
const CHECKPOINT_FORMAT = 'twinsearch-checkpoint/1';

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

interface SerialisedTower {
  modelJson: ModelJson;
  weights: Uint8Array;
  sha256: string;
}

const sha256Of = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

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
async function serialiseTower(tower: tf.LayersModel): Promise<SerialisedTower> {
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

async function writeTowerFiles(dir: string, serialised: SerialisedTower): Promise<void> {
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

/** Reads a file that must exist because the card or checkpoint refers to it. */
async function readRequired(dir: string, file: string): Promise<Buffer> {
  try {
    return await readFile(join(dir, file));
  } catch (err) {
    if (isNotFound(err)) throw new ModelLoadError('MODEL_CORRUPT', dir, `${file} is missing`, { cause: err });
    throw err;
  }
}

function checkSha256(dir: string, file: string, bytes: Uint8Array, expected: string): void {
  const actual = sha256Of(bytes);
  if (actual !== expected) throw new ModelLoadError('MODEL_CORRUPT', dir, `${file} does not match its recorded sha256 (expected ${expected.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`);
}

const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;

/** Reads model.json + the (already verified) weights and builds the tower. */
async function readTower(dir: string, weights: Uint8Array): Promise<tf.LayersModel> {
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
  await requireDirectory(dir);
  let cardText: string;
  try {
    cardText = await readFile(join(dir, MODEL_CARD_FILE), 'utf8');
  } catch (err) {
    if (isNotFound(err)) throw new ModelLoadError('MODEL_NOT_FOUND', dir, `No ${MODEL_CARD_FILE} in the model directory`, { cause: err });
    throw err;
  }
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
  const weights = await readRequired(dir, card.weights.file);
  checkSha256(dir, card.weights.file, weights, card.weights.sha256);
  const tower = await readTower(dir, weights);
  try {
    checkTowerMatches(tower, card);
  } catch (err) {
    tower.dispose();
    throw new ModelLoadError('MODEL_CORRUPT', dir, `${MODEL_JSON_FILE} does not match ${MODEL_CARD_FILE}: ${(err as Error).message}`, { cause: err });
  }
  return { tower, card: card as TrainedModelCard };
}

// ---- Training checkpoints ----

/** What `optimizer.getWeights()` returns (tfjs-core's NamedTensor, which the tfjs bundle does not re-export). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

export interface CheckpointData {
  /** Everything else the loop needs to resume, as JSON: epoch, step, RNG state, options, history, best score... */
  state: Record<string, unknown>;
  /**
   * Values of the trainable variables in order (the tower's plus extras such as a learnable N-pair
   * scale), stored in variables.bin. The tower itself is always saved too (model.json + weights.bin).
   */
  weights?: Float32Array[];
  /** `await optimizer.getWeights()` (e.g. Adam's iteration count and moments), stored in optimizer.bin. */
  optimizer?: NamedTensor[];
}

export interface Checkpoint {
  /** The tower as saved (a new model; dispose it when done). */
  tower: tf.LayersModel;
  state: Record<string, unknown>;
  /** The `weights` arrays as saved ([] if none were). */
  weights: Float32Array[];
  /** New tensors in the saved order ([] if none were saved): pass to `optimizer.setWeights(...)`, then dispose them. */
  optimizer: NamedTensor[];
  /** ISO 8601 time the checkpoint was written. */
  savedAt: string;
}

export const VARIABLES_FILE = 'variables.bin';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

const checkpointSchema = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    savedAt: z.string(),
    state: z.record(z.string(), z.unknown()),
    tower: z.object({ file: z.literal(WEIGHTS_FILE), sha256: sha256Hex }),
    variables: z.object({ file: z.literal(VARIABLES_FILE), sha256: sha256Hex, lengths: z.array(z.number().int().min(0)) }).optional(),
    optimizer: z
      .object({
        file: z.literal(OPTIMIZER_FILE),
        sha256: sha256Hex,
        specs: z.array(z.object({ name: z.string(), shape: z.array(z.number().int().min(0)), dtype: z.enum(['float32', 'int32', 'bool']) })),
      })
      .optional(),
  })
  .loose();

type CheckpointJson = z.infer<typeof checkpointSchema>;

/** Concatenates float32 arrays into one byte buffer. */
function packFloat32(arrays: Float32Array[]): Uint8Array {
  const all = new Float32Array(arrays.reduce((n, a) => n + a.length, 0));
  let offset = 0;
  for (const a of arrays) {
    all.set(a, offset);
    offset += a.length;
  }
  return new Uint8Array(all.buffer);
}

function unpackFloat32(bytes: Uint8Array, lengths: number[]): Float32Array[] {
  const total = lengths.reduce((n, l) => n + l, 0);
  if (bytes.byteLength !== total * 4) throw new Error(`holds ${bytes.byteLength} bytes, expected ${total * 4}`);
  const all = new Float32Array(toArrayBuffer(bytes));
  let offset = 0;
  return lengths.map((l) => all.slice(offset, (offset += l)));
}

/**
 * Saves a resumable training checkpoint into `dir`: the tower (`model.json`, `weights.bin`), the
 * given variable values (`variables.bin`) and optimizer weights (`optimizer.bin`), then
 * `checkpoint.json` (state + sha256 of every binary), written last. Every file is replaced atomically.
 *
 * @example
 * await saveCheckpoint('runs/omniglot/checkpoint', tower, { state: { epoch, step, rng: rng.state() }, optimizer: await optimizer.getWeights() });
 */
export async function saveCheckpoint(dir: string, tower: tf.LayersModel, data: CheckpointData): Promise<void> {
  const serialised = await serialiseTower(tower);
  let variablesBytes: Uint8Array | undefined;
  let variables: CheckpointJson['variables'];
  if (data.weights) {
    variablesBytes = packFloat32(data.weights);
    variables = { file: VARIABLES_FILE, sha256: sha256Of(variablesBytes), lengths: data.weights.map((w) => w.length) };
  }
  let optimizerBytes: Uint8Array | undefined;
  let optimizer: CheckpointJson['optimizer'];
  if (data.optimizer?.length) {
    const names = data.optimizer.map((w) => w.name);
    if (new Set(names).size !== names.length) throw new Error('Optimizer weight names must be unique');
    const { data: buffer, specs } = await tf.io.encodeWeights(data.optimizer);
    optimizerBytes = new Uint8Array(buffer);
    optimizer = {
      file: OPTIMIZER_FILE,
      sha256: sha256Of(optimizerBytes),
      specs: specs.map(({ name, shape, dtype }) => {
        if (dtype !== 'float32' && dtype !== 'int32' && dtype !== 'bool') throw new Error(`Optimizer weight ${name} has unsupported dtype ${dtype}`);
        return { name, shape, dtype };
      }),
    };
  }
  // Round-trips the state through JSON now, so a non-JSON value fails before anything is written.
  const checkpoint = checkpointSchema.parse(
    JSON.parse(JSON.stringify({ format: CHECKPOINT_FORMAT, savedAt: new Date().toISOString(), state: data.state, tower: { file: WEIGHTS_FILE, sha256: serialised.sha256 }, variables, optimizer })),
  );
  await writeTowerFiles(dir, serialised);
  if (variablesBytes) await writeFileAtomic(join(dir, VARIABLES_FILE), variablesBytes);
  if (optimizerBytes) await writeFileAtomic(join(dir, OPTIMIZER_FILE), optimizerBytes);
  await writeFileAtomic(join(dir, CHECKPOINT_FILE), jsonText(checkpoint));
}

/** Reads a binary the checkpoint refers to and checks its sha256. */
async function readVerified(dir: string, ref: { file: string; sha256: string }): Promise<Buffer> {
  const bytes = await readRequired(dir, ref.file);
  checkSha256(dir, ref.file, bytes, ref.sha256);
  return bytes;
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint}, verifying every binary's sha256.
 *
 * @throws ModelLoadError `MODEL_NOT_FOUND` (no directory or no checkpoint.json), `CARD_INVALID`
 *   (checkpoint.json fails validation), `MODEL_CORRUPT` (missing or altered files)
 * @example
 * const ckpt = await loadCheckpoint('runs/omniglot/checkpoint');
 * if (ckpt.optimizer.length) await optimizer.setWeights(ckpt.optimizer);
 * tf.dispose(ckpt.optimizer.map((w) => w.tensor));
 */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  await requireDirectory(dir);
  let text: string;
  try {
    text = await readFile(join(dir, CHECKPOINT_FILE), 'utf8');
  } catch (err) {
    if (isNotFound(err)) throw new ModelLoadError('MODEL_NOT_FOUND', dir, `No ${CHECKPOINT_FILE} in the checkpoint directory`, { cause: err });
    throw err;
  }
  let parsed: CheckpointJson;
  try {
    parsed = checkpointSchema.parse(JSON.parse(text));
  } catch (err) {
    throw new ModelLoadError('CARD_INVALID', dir, `${CHECKPOINT_FILE} is invalid: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const towerBytes = await readVerified(dir, parsed.tower);
  let weights: Float32Array[] = [];
  if (parsed.variables) {
    const bytes = await readVerified(dir, parsed.variables);
    try {
      weights = unpackFloat32(bytes, parsed.variables.lengths);
    } catch (err) {
      throw new ModelLoadError('MODEL_CORRUPT', dir, `${VARIABLES_FILE} ${(err as Error).message}`, { cause: err });
    }
  }
  let optimizerBytes: Buffer | undefined;
  if (parsed.optimizer) optimizerBytes = await readVerified(dir, parsed.optimizer);
  const tower = await readTower(dir, towerBytes);
  let optimizer: NamedTensor[] = [];
  if (parsed.optimizer && optimizerBytes) {
    try {
      const specs: tf.io.WeightsManifestEntry[] = parsed.optimizer.specs;
      const decoded = tf.io.decodeWeights(toArrayBuffer(optimizerBytes), specs);
      optimizer = specs.map((spec) => ({ name: spec.name, tensor: decoded[spec.name] }));
    } catch (err) {
      tower.dispose();
      throw new ModelLoadError('MODEL_CORRUPT', dir, `${OPTIMIZER_FILE} does not match its specs`, { cause: err });
    }
  }
  return { tower, state: parsed.state, weights, optimizer, savedAt: parsed.savedAt };
}
