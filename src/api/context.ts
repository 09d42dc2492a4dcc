/**
 * What every route needs, built once per app from its dependencies: the model card, the
 * embedder, the vector store, config-derived limits, the key ring, metrics and the logger.
 */
import type { Embedder } from '../embedding/index.js';
import type { ModelCard } from '../model/card.js';
import type { StoreReader, VectorStore } from '../index/vector-store.js';
import { keyRing, type KeyRing } from './auth/index.js';
import type { ApiConfig } from './config/index.js';
import { ApiError } from './errors/index.js';
import type { ImageLimits } from './images/index.js';
import type { Logger } from './log.js';
import type { ApiMetrics } from './metrics/index.js';
import { calibratedThreshold, type ThresholdInfo } from './search/index.js';

/** The dependencies `createApp` takes (tests pass a tiny real model and index). */
export interface AppDeps {
  config: ApiConfig;
  card: ModelCard;
  embedder: Embedder;
  store: VectorStore;
  metrics: ApiMetrics;
  log: Logger;
  /** Folder holding the demo page (index.html, demo.js, demo.css). Default: src/api/demo. */
  demoDir?: string;
}

export interface ApiContext extends AppDeps {
  ring: KeyRing;
  threshold: ThresholdInfo;
  limits: ImageLimits;
  /** Embeddings come out L2-normalised (and are stored so). */
  normalized: boolean;
  /** The generation this request reads (take it once per request), or 503. */
  requireReader(): StoreReader;
}

/**
 * @example
 * const ctx = apiContext(deps); ctx.threshold.value // the calibrated threshold
 */
export function apiContext(deps: AppDeps): ApiContext {
  const { config, card, store, embedder } = deps;
  return {
    ...deps,
    ring: keyRing(config),
    threshold: calibratedThreshold(card, config.targetFar),
    limits: { maxInputPixels: config.maxInputPixels, minImageSide: config.minImageSide },
    normalized: embedder.recipe.normalized,
    requireReader() {
      const reader = store.reader();
      if (!reader) {
        const problem = store.status().problem;
        throw new ApiError('NOT_READY', problem ? `no index is loaded: ${problem.message}${problem.fix ? `. Fix: ${problem.fix}` : ''}` : 'no index is loaded yet');
      }
      return reader;
    },
  };
}
