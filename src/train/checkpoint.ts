/**
 * Resumable training checkpoints: the tower as a model directory stores it (`model.json`,
 * `weights.bin`, see src/model/io.ts), the values of every trainable variable (`variables.bin`), the
 * optimizer's weights (`optimizer.bin`) and the loop's JSON state, with `checkpoint.json` (state and
 * the sha256 of every binary) written last. Every file is replaced atomically.
 */
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic.js';
import { WEIGHTS_FILE } from '../model/card.js';
import { ModelLoadError, readDescriptor, readTower, readVerified, serialiseTower, sha256Of, toArrayBuffer, writeTowerFiles } from '../model/io.js';

export const CHECKPOINT_FILE = 'checkpoint.json';
export const VARIABLES_FILE = 'variables.bin';
export const OPTIMIZER_FILE = 'optimizer.bin';
const CHECKPOINT_FORMAT = 'twinsearch-checkpoint/1';

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
  await writeFileAtomic(join(dir, CHECKPOINT_FILE), `${JSON.stringify(checkpoint, null, 2)}\n`);
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
  const text = await readDescriptor(dir, CHECKPOINT_FILE, 'checkpoint');
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
