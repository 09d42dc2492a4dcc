import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeTinyModel } from '../../test/fixtures/gallery.js';
import { imageFloats, recipeFromCard, storesNormalized } from './recipe.js';

describe('recipeFromCard', () => {
  it('takes the model id, dimension, metric, preprocessing and output settings from the card', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'recipe-'));
    try {
      const center = [0.1, 0, 0, 0, 0, 0, 0, -0.1];
      const card = await writeTinyModel(join(dir, 'm'), { flipAverage: true, center });
      const recipe = recipeFromCard(card);
      expect(recipe).toMatchObject({ modelId: card.modelId, weightsHash: card.weights.sha256, dim: 8, metric: 'l2', normalized: true });
      expect(recipe.settings).toEqual({ l2Normalize: true, flipAverage: true, center });
      expect(imageFloats(recipe.preprocess)).toBe(28 * 28);
      const plain = recipeFromCard(await writeTinyModel(join(dir, 'p'), { l2Normalize: false }));
      expect(plain.normalized).toBe(false);
      expect(plain.settings).toEqual({ l2Normalize: false, flipAverage: false });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('stores cosine models normalised whatever the tower says', () => {
    expect(storesNormalized('cosine', false)).toBe(true);
    expect(storesNormalized('l2', false)).toBe(false);
    expect(storesNormalized('l2', true)).toBe(true);
  });
});
