/**
 * What every route needs, built once per app from its dependencies: the model card, the
 * embedder, the index holder, config-derived limits, the key ring, metrics and the logger.
 */
import type { ModelCard } from '../model/card.js';
import { storesNormalized } from '../index/distance.js';
import type { OpenIndex } from '../index/open.js';
import { keyRing, type KeyRing } from './auth/index.js';
import type { ApiConfig } from './config/index.js';
import type { QueryEmbedder } from './embedding/index.js';
import { ApiError } from './errors/index.js';
import type { IndexHolder } from './holder/index.js';
import type { ImageLimits } from './images/index.js';
import type { Logger } from './log.js';
import type { ApiMetrics } from './metrics/index.js';
import { calibratedThreshold, type ThresholdInfo } from './search/index.js';

/** The dependencies `createApp` takes (tests pass a tiny real model and index). */
export interface AppDeps {
  config: ApiConfig;
  card: ModelCard;
  embedder: QueryEmbedder;
  holder: IndexHolder;
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
  /** The loaded index, or 503. */
  requireIndex(): OpenIndex;
}

/**
 * @example
 * const ctx = apiContext(deps); ctx.threshold.value // the calibrated threshold
 */
export function apiContext(deps: AppDeps): ApiContext {
  const { config, card, holder } = deps;
  return {
    ...deps,
    ring: keyRing(config),
    threshold: calibratedThreshold(card, config.targetFar),
    limits: { maxInputPixels: config.maxInputPixels, minImageSide: config.minImageSide },
    normalized: storesNormalized(card.metric, card.tower.l2Normalize),
    requireIndex() {
      const index = holder.current;
      if (!index) {
        const refused = holder.status().refused;
        throw new ApiError('NOT_READY', refused ? `no index is loaded: snapshot ${refused.version} was refused (${refused.code})` : 'no index is loaded yet');
      }
      return index;
    },
  };
}
