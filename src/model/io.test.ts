import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelCardError, type ModelCard } from './card.js';
import { DEFAULT_PREPROCESS, type PreprocessConfig, type TowerConfig } from './config.js';
import { embed } from './embed.js';
import { ModelLoadError, embeddingRecipeHash, loadModel, saveModel, type ModelCardDraft } from './io.js';
import { buildTower } from './tower.js';

const PRE: PreprocessConfig = { ...DEFAULT_PREPROCESS, width: 12, height: 12 };
const TOWER: TowerConfig = { arch: 'writeup', filters: 4, embeddingSize: 6, l2Normalize: true };

const draft = (): ModelCardDraft => ({
  name: 'unit-test',
  createdAt: '2025-01-02T03:04:05.000Z',
  preprocess: PRE,
  tower: TOWER,
  metric: 'l2',
  loss: { name: 'contrastive', margin: 1 },
  thresholds: { eer: { threshold: 0.8, far: 0.1, tar: 0.9 }, atFar: [{ targetFar: 0.01, threshold: 0.5, far: 0.01, tar: 0.6 }], default: 0.8 },
  validation: { auc: 0.95, eer: 0.1, samePairs: 10, differentPairs: 10 },
  training: { backend: 'cpu', seed: 1, epochs: 1, steps: 3, batchSize: 4, learningRate: 0.01, wallSeconds: 1, trainIdentities: 5, valIdentities: 2, images: 20, dataDigest: 'test' },
});

let root: string;
let x: tf.Tensor4D;

beforeAll(async () => {
  await tf.setBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'twinsearch-io-'));
  x = tf.randomUniform([5, 12, 12, 1], 0, 1, 'float32', 5) as tf.Tensor4D;
});

afterAll(async () => {
  x.dispose();
  await rm(root, { recursive: true, force: true });
});

const embeddingsOf = (tower: tf.LayersModel): number[] => tf.tidy(() => Array.from(embed(tower, x, { l2Normalize: true }).dataSync()));

async function expectLoadError(promise: Promise<unknown>, code: ModelLoadError['code'], message?: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ModelLoadError);
  expect((err as ModelLoadError).code).toBe(code);
  if (message) expect((err as ModelLoadError).message).toMatch(message);
}

async function savedModelDir(name: string, seed = 1): Promise<{ dir: string; tower: tf.LayersModel; card: ModelCard }> {
  const dir = join(root, name);
  const tower = buildTower(TOWER, PRE, seed);
  const card = await saveModel(dir, tower, draft());
  return { dir, tower, card };
}

describe('saveModel / loadModel', () => {
  it('round-trips: identical embeddings, the card as written, standard tfjs files', async () => {
    const dir = join(root, 'roundtrip');
    const tower = buildTower(TOWER, PRE, 1);
    // Fields the tower determines may be given if they agree; extra fields are kept.
    const card = await saveModel(dir, tower, { ...draft(), inputShape: [12, 12, 1], embeddingSize: 6, training: { ...draft().training, workers: 2 } });
    expect(card.training.workers).toBe(2);
    expect((await readdir(dir)).sort()).toEqual(['model-card.json', 'model.json', 'weights.bin']);

    const weights = await readFile(join(dir, 'weights.bin'));
    const sha = createHash('sha256').update(weights).digest('hex');
    expect(card.weights).toEqual({ file: 'weights.bin', sha256: sha });
    expect(card.modelId).toBe(`unit-test-${embeddingRecipeHash(sha, card).slice(0, 12)}`);
    expect(card.parameters).toBe(tower.countParams());
    expect(card.inputShape).toEqual([12, 12, 1]);
    expect(card.embeddingSize).toBe(6);
    expect(card.format).toBe('twinsearch-model-card/1');
    expect(JSON.parse(await readFile(join(dir, 'model-card.json'), 'utf8'))).toEqual(card);

    const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(modelJson.format).toBe('layers-model');
    expect(modelJson.weightsManifest).toHaveLength(1);
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);
    // float32 weights: 4 bytes per parameter.
    expect(weights.byteLength).toBe(4 * tower.countParams());

    const loaded = await loadModel(dir);
    expect(loaded.card).toEqual(card);
    expect(embeddingsOf(loaded.tower)).toEqual(embeddingsOf(tower));
    loaded.tower.dispose();
    tower.dispose();
  });

  it('gives a new model id when only the embedding recipe changes, so an index re-embeds', async () => {
    const tower = buildTower(TOWER, PRE, 1);
    const plain = await saveModel(join(root, 'recipe-plain'), tower, draft());
    const flipped = await saveModel(join(root, 'recipe-flip'), tower, { ...draft(), tower: { ...TOWER, flipAverage: true } });
    const inverted = await saveModel(join(root, 'recipe-invert'), tower, { ...draft(), preprocess: { ...PRE, invert: !PRE.invert } });
    tower.dispose();
    expect(flipped.weights.sha256).toBe(plain.weights.sha256);
    expect(new Set([plain.modelId, flipped.modelId, inverted.modelId]).size).toBe(3);
    // Key order is not part of the recipe.
    const reordered = { metric: plain.metric, tower: Object.fromEntries(Object.entries(plain.tower).reverse()) as typeof plain.tower, preprocess: plain.preprocess };
    expect(embeddingRecipeHash(plain.weights.sha256, reordered)).toBe(embeddingRecipeHash(plain.weights.sha256, plain));
  });

  it('detects a single flipped byte in weights.bin', async () => {
    const { dir, tower } = await savedModelDir('flipped');
    tower.dispose();
    const path = join(dir, 'weights.bin');
    const bytes = await readFile(path);
    bytes[17] ^= 0x01;
    await writeFile(path, bytes);
    await expectLoadError(loadModel(dir), 'MODEL_CORRUPT', /weights\.bin does not match its recorded sha256/);
  });

  it('reports a missing directory or card as MODEL_NOT_FOUND', async () => {
    await expectLoadError(loadModel(join(root, 'does-not-exist')), 'MODEL_NOT_FOUND');
    const empty = join(root, 'empty');
    await mkdir(empty);
    await expectLoadError(loadModel(empty), 'MODEL_NOT_FOUND', /model-card\.json/);
  });

  it('reports an invalid card as CARD_INVALID, naming the field', async () => {
    const { dir, tower } = await savedModelDir('bad-card');
    tower.dispose();
    const path = join(dir, 'model-card.json');
    const card = JSON.parse(await readFile(path, 'utf8'));
    card.metric = 'hamming';
    await writeFile(path, JSON.stringify(card));
    await expectLoadError(loadModel(dir), 'CARD_INVALID', /metric/);
    await writeFile(path, '{ not json');
    await expectLoadError(loadModel(dir), 'CARD_INVALID', /not JSON/);
  });

  it('reports missing or broken model files, or a card that does not fit the model, as MODEL_CORRUPT', async () => {
    const a = await savedModelDir('no-weights');
    a.tower.dispose();
    await unlink(join(a.dir, 'weights.bin'));
    await expectLoadError(loadModel(a.dir), 'MODEL_CORRUPT', /weights\.bin is missing/);

    const b = await savedModelDir('bad-topology');
    b.tower.dispose();
    await writeFile(join(b.dir, 'model.json'), '{"modelTopology": 1');
    await expectLoadError(loadModel(b.dir), 'MODEL_CORRUPT', /model\.json/);

    // A card for 28x28 inputs next to a 12x12 model (valid card, correct sha).
    const c = await savedModelDir('mismatch');
    c.tower.dispose();
    const card = { ...c.card, preprocess: { ...c.card.preprocess, width: 28, height: 28 }, inputShape: [28, 28, 1] };
    await writeFile(join(c.dir, 'model-card.json'), JSON.stringify(card));
    await expectLoadError(loadModel(c.dir), 'MODEL_CORRUPT', /does not match model-card\.json/);
  });

  it('refuses, before writing anything, a draft that does not fit the tower or is invalid', async () => {
    const tower = buildTower(TOWER, PRE, 1);
    const dir = join(root, 'refused');
    await expect(saveModel(dir, tower, { ...draft(), preprocess: { ...PRE, width: 28, height: 28 } })).rejects.toThrow(/12x12x1 inputs but preprocess gives 28x28x1/);
    await expect(saveModel(dir, tower, { ...draft(), tower: { ...TOWER, embeddingSize: 8 } })).rejects.toThrow(/6-d embeddings/);
    await expect(saveModel(dir, tower, { ...draft(), validation: { ...draft().validation, auc: 2 } })).rejects.toBeInstanceOf(ModelCardError);
    await expect(saveModel(dir, tower, { ...draft(), name: 'bad/name' })).rejects.toThrow(/Model name/);
    await expect(saveModel(dir, tower, { ...draft(), parameters: 1 })).rejects.toThrow(/parameters 1 does not match/);
    await expect(readdir(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    tower.dispose();
  });
});
