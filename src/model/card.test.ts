import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ModelCardError, parseModelCard, type ModelCard } from './card.js';
import { DEFAULT_PREPROCESS, DEFAULT_TOWER } from './config.js';

function validCard(): ModelCard {
  return {
    format: 'twinsearch-model-card/1',
    modelId: 'omniglot-0123456789ab',
    createdAt: '2025-01-02T03:04:05.678Z',
    preprocess: { ...DEFAULT_PREPROCESS, invert: true },
    tower: { ...DEFAULT_TOWER },
    inputShape: [28, 28, 1],
    embeddingSize: 64,
    metric: 'l2',
    loss: { name: 'npair', scale: 25 },
    thresholds: {
      eer: { threshold: 0.9, far: 0.05, tar: 0.95 },
      atFar: [{ targetFar: 0.001, threshold: 0.6, far: 0.0012, tar: 0.7 }],
      default: 0.9,
    },
    validation: { auc: 0.98, eer: 0.05, rank1: 0.87, samePairs: 1000, differentPairs: 1000, precisionAt1: 0.9 },
    training: {
      backend: 'wasm',
      seed: 42,
      epochs: 3,
      steps: 1500,
      batchSize: 64,
      learningRate: 0.001,
      wallSeconds: 600.5,
      trainIdentities: 3000,
      valIdentities: 856,
      images: 19280,
      dataDigest: 'sha256:abc',
    },
    weights: { file: 'weights.bin', sha256: 'a'.repeat(64) },
    parameters: 115584,
  };
}

/** Deep-copies the valid card and applies a mutation (any: the tests break arbitrary nested fields on purpose). */
function cardWith(mutate: (card: Record<string, any>) => void): unknown {
  const card = structuredClone(validCard()) as Record<string, any>;
  mutate(card);
  return card;
}

function errorOf(input: unknown): ModelCardError {
  try {
    parseModelCard(input);
  } catch (err) {
    if (err instanceof ModelCardError) return err;
    throw err;
  }
  throw new Error('expected parseModelCard to throw');
}

describe('parseModelCard', () => {
  it('accepts a complete card, as an object or as JSON text', () => {
    expect(parseModelCard(validCard())).toEqual(validCard());
    expect(parseModelCard(JSON.stringify(validCard()))).toEqual(validCard());
  });

  it('keeps fields it does not know (later versions may add some)', () => {
    const card = parseModelCard(cardWith((c) => {
      c.notes = 'trained overnight';
      c.training.workers = 2;
      c.tower.batchNorm = false;
    })) as ModelCard & { notes?: string };
    expect(card.notes).toBe('trained overnight');
    expect((card.training as Record<string, unknown>).workers).toBe(2);
    expect((card.tower as unknown as Record<string, unknown>).batchNorm).toBe(false);
  });

  it('names the path of each invalid field in the message', () => {
    const err = errorOf(cardWith((c) => {
      c.format = 'twinsearch-model-card/2';
      c.thresholds.eer.far = 1.5;
      c.weights.sha256 = 'not-a-hash';
      delete c.metric;
    }));
    expect(err.message).toMatch(/^Invalid model card/);
    expect(err.message).toContain('format');
    expect(err.message).toContain('thresholds.eer.far');
    expect(err.message).toContain('weights.sha256');
    expect(err.message).toContain('metric');
    expect(err.issues.length).toBe(4);
  });

  it('rejects unknown enum values for arch, loss and metric', () => {
    expect(errorOf(cardWith((c) => (c.tower.arch = 'resnet'))).message).toContain('tower.arch');
    expect(errorOf(cardWith((c) => (c.loss.name = 'arcface'))).message).toContain('loss.name');
    expect(errorOf(cardWith((c) => (c.metric = 'manhattan'))).message).toContain('metric');
  });

  it('allows extra numeric validation metrics but not other kinds', () => {
    expect(parseModelCard(cardWith((c) => (c.validation.mapAtR = 0.5))).validation.mapAtR).toBe(0.5);
    expect(errorOf(cardWith((c) => (c.validation.protocol = 'k-fold'))).message).toContain('validation.protocol');
  });

  it('checks that inputShape and embeddingSize agree with preprocess and tower', () => {
    expect(errorOf(cardWith((c) => (c.inputShape = [105, 105, 1]))).message).toMatch(/inputShape[\s\S]*\[28, 28, 1\]/);
    expect(errorOf(cardWith((c) => (c.embeddingSize = 128))).message).toMatch(/embeddingSize[\s\S]*64/);
  });

  it('takes a centre of embeddingSize numbers, and only for an L2-normalised tower', () => {
    const center = Array.from({ length: 64 }, (_, i) => i / 640);
    expect(parseModelCard(cardWith((c) => (c.tower.center = center))).tower.center).toEqual(center);
    expect(errorOf(cardWith((c) => (c.tower.center = center.slice(1)))).message).toMatch(/tower\.center[\s\S]*\(64\) numbers, got 63/);
    expect(errorOf(cardWith((c) => ((c.tower.center = center), (c.tower.l2Normalize = false)))).message).toMatch(/tower\.center[\s\S]*l2Normalize/);
    expect(errorOf(cardWith((c) => (c.tower.center = [...center.slice(1), Number.NaN]))).message).toContain('tower.center');
  });

  it('still reads cards that name the removed tower options at their defaults, and refuses the options themselves', async () => {
    const written = parseModelCard(cardWith((c) => Object.assign(c.tower, { head: 'flatten', dropout: 0 })));
    expect(written.tower).toMatchObject({ head: 'flatten', dropout: 0 });
    expect(errorOf(cardWith((c) => (c.tower.head = 'gap'))).message).toMatch(/tower\.head: the gap head is no longer supported: retrain the model with the default flatten head/);
    expect(errorOf(cardWith((c) => (c.tower.dropout = 0.3))).message).toMatch(/tower\.dropout: dropout is no longer supported: retrain the model without it/);
    // A card the repository ships, written before those options were removed.
    const shipped = parseModelCard(await readFile(new URL('../../docs/results/omniglot/model-card.json', import.meta.url), 'utf8'));
    expect(shipped.modelId).toBe('omniglot-e0eb56d50a54');
  });

  it('reads the images training left out (training.skipped); cards without the list still parse', () => {
    const skipped = [
      { file: 's1/3.png', code: 'CORRUPT_IMAGE', reason: 'corrupt or truncated (VipsPng: IDAT stream error)' },
      { file: 's2/big.jpg', code: 'IMAGE_TOO_LARGE', reason: '20000x15000 pixels, more than the limit of 40000000' },
    ];
    expect(parseModelCard(cardWith((c) => (c.training.skipped = skipped))).training.skipped).toEqual(skipped);
    expect(parseModelCard(validCard()).training.skipped).toBeUndefined();
    expect(errorOf(cardWith((c) => (c.training.skipped = [{ code: 'CORRUPT_IMAGE', reason: 'x' }]))).message).toContain('training.skipped.0.file');
    expect(errorOf(cardWith((c) => (c.training.skipped = 's1/3.png'))).message).toContain('training.skipped');
  });

  it('reports text that is not JSON, and a non-object', () => {
    expect(errorOf('{"format": ').message).toMatch(/not JSON/);
    expect(errorOf(null).message).toMatch(/^Invalid model card/);
  });
});
