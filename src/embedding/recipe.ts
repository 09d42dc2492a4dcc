/**
 * The embedding recipe: everything, read from a model card, that decides which vector an image
 * gets — preprocessing, the tower's output settings (normalisation, mirror averaging, centring),
 * the metric and the dimension. Every embedder, in this thread or in a worker, for training's
 * calibration, the index job or a request, embeds by this one recipe.
 */
import { weightsHashOf, type ModelCard } from '../model/card.js';
import type { Metric, PreprocessConfig } from '../model/config.js';
import type { EmbedSettings } from '../model/embed.js';

export interface EmbeddingRecipe {
  modelId: string;
  weightsHash: string;
  dim: number;
  metric: Metric;
  /** Vectors come out (and are stored) L2-normalised. */
  normalized: boolean;
  preprocess: PreprocessConfig;
  /** What `embed()` does to the tower's outputs. */
  settings: EmbedSettings;
}

/** Whether stored vectors must be L2-normalised: always for cosine, else as the model card says. */
export function storesNormalized(metric: Metric, l2Normalize: boolean): boolean {
  return metric === 'cosine' || l2Normalize;
}

/** Floats in one preprocessed image (height x width x channels). */
export function imageFloats(preprocess: PreprocessConfig): number {
  return preprocess.height * preprocess.width * preprocess.channels;
}

/** The NHWC shape of one preprocessed image. */
export function imageShape(preprocess: PreprocessConfig): [number, number, number] {
  return [preprocess.height, preprocess.width, preprocess.channels];
}

/**
 * The recipe a model card prescribes: normalised when the vectors are stored normalised, with
 * the mirror when `tower.flipAverage`, centred when `tower.center`.
 *
 * @example
 * const recipe = recipeFromCard(card);
 * recipe.settings // { l2Normalize: true, flipAverage: false }
 */
export function recipeFromCard(card: ModelCard): EmbeddingRecipe {
  const normalized = storesNormalized(card.metric, card.tower.l2Normalize);
  return {
    modelId: card.modelId,
    weightsHash: weightsHashOf(card),
    dim: card.embeddingSize,
    metric: card.metric,
    normalized,
    preprocess: card.preprocess,
    settings: {
      l2Normalize: normalized,
      flipAverage: card.tower.flipAverage ?? false,
      ...(card.tower.center ? { center: card.tower.center } : {}),
    },
  };
}
