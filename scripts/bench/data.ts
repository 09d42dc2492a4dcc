/** The inputs benchmarks measure on: Fashion-MNIST images and a random-weight model of the default architecture. */
import { join } from 'node:path';
import { readIdxDataset } from '../../src/data/idx.js';
import { DEFAULT_PREPROCESS, DEFAULT_TOWER } from '../../src/model/config.js';

/** Where Debian's dataset-fashion-mnist package installs it. */
export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** A random-weight conv4 tower saved as a model directory (what benchmarks use without --model: same speed as a trained one). */
export async function randomModel(dir: string): Promise<string> {
  const { saveModel } = await import('../../src/model/io.js');
  const { buildTower } = await import('../../src/model/tower.js');
  const { initBackend } = await import('../../src/model/backend.js');
  await initBackend({ preference: 'wasm', log: () => {} });
  const tower = buildTower(DEFAULT_TOWER, DEFAULT_PREPROCESS, 7);
  const point = { threshold: 1, far: 0.5, tar: 0.5 };
  await saveModel(dir, tower, {
    name: 'random-conv4',
    preprocess: DEFAULT_PREPROCESS,
    tower: DEFAULT_TOWER,
    metric: 'l2',
    loss: { name: 'npair', scale: 25 },
    thresholds: { eer: point, atFar: [], default: 1 },
    validation: { auc: 0.5, eer: 0.5, samePairs: 0, differentPairs: 0 },
    training: { backend: 'none', seed: 7, epochs: 0, steps: 0, batchSize: 1, learningRate: 0, wallSeconds: 0, trainIdentities: 0, valIdentities: 0, images: 0, dataDigest: 'untrained' },
  });
  tower.dispose();
  return dir;
}

/** Fashion-MNIST train + test images as raw bytes (count x 784). */
export async function fashionMnist(limit: number): Promise<{ images: Uint8Array; count: number }> {
  const train = await readIdxDataset(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'), join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz'));
  const test = await readIdxDataset(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'), join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'));
  const count = Math.min(limit, train.count + test.count);
  const images = new Uint8Array(count * 784);
  images.set(train.images.subarray(0, Math.min(count, train.count) * 784));
  if (count > train.count) images.set(test.images.subarray(0, (count - train.count) * 784), train.count * 784);
  return { images, count };
}
