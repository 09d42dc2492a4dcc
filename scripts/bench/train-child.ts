/** One configuration of the training benchmark (see train.ts): prints one JSON line. */
import { initBackend, parseBackendPreference } from '../../src/model/backend.js';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/train/options.js';
import { train } from '../../src/train/loop.js';
import os from 'node:os';
import path from 'node:path';

const [backend = 'wasm', workersArg = '0', stepsArg = '10', gallery = ''] = process.argv.slice(2);
const workers = Number(workersArg);
const timed = Number(stepsArg);
const warmup = 2;
const info = await initBackend({ preference: parseBackendPreference(backend), strict: true, log: () => {} });
const stamps: number[] = [];
let pairs = 0;
const batchImages = 128;
await train(
  {
    ...DEFAULT_TRAIN_OPTIONS, data: gallery, out: path.join(os.tmpdir(), `twinsearch-bench-train-${process.pid}`), backend: info.name,
    workers, epochs: 1, stepsPerEpoch: warmup + timed, batchImages, valFraction: 0.2, patience: 0, loss: 'contrastive',
  },
  {
    onStep: (e) => {
      stamps.push(performance.now());
      if (e.step > warmup) pairs += batchImages / 2;
    },
  },
);
const seconds = (stamps.at(-1)! - stamps[warmup - 1]!) / 1000;
process.stdout.write(`${JSON.stringify({
  backend: info.name, workers, steps: timed, pairsPerStep: batchImages / 2, msPerStep: (seconds * 1000) / timed,
  pairsPerSecond: pairs / seconds, imagesPerSecond: (2 * pairs) / seconds,
})}\n`);
process.exit(0);
