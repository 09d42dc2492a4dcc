/**
 * Gradient worker thread: holds its own tfjs (wasm is single-core in Node, so one worker per core),
 * a replica of the tower and a view of the shared training images. Per step it receives the current
 * weights and a batch plan, and answers with the loss and gradients.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../model/backend.js';
import { buildTower } from '../model/tower.js';
import { workerDataOf } from '../util/worker.js';
import { materialiseBatch } from './batch.js';
import { assignWeights, computeGradients, type Trainable } from './gradients.js';
import type { WorkerInit, WorkerRequest, WorkerReply } from './parallel.js';

const init = workerDataOf<WorkerInit>(workerData);
const port = parentPort!;

async function main(): Promise<void> {
  await initBackend({ preference: init.backend, log: () => {} });
  const trainable: Trainable = {
    tower: buildTower(init.tower, init.preprocess, init.seed),
    scale: init.withScale ? tf.tidy(() => tf.variable(tf.scalar(1), true, 'npair_scale')) : undefined,
    // Values arrive with every step's weights; only the shape matters here.
    proxies: init.proxyShape ? tf.tidy(() => tf.variable(tf.zeros(init.proxyShape!), true, 'cosface_proxies')) : undefined,
  };
  const images = new Float32Array(init.images);
  port.on('message', (request: WorkerRequest) => {
    try {
      assignWeights(trainable, request.weights);
      const pixels = materialiseBatch(images, init.shape, request.plan, init.rotations, init.augment);
      const result = computeGradients(trainable, pixels, init.shape, request.plan, init.loss);
      const reply: WorkerReply = { ok: true, ...result, backend: tf.getBackend() };
      port.postMessage(reply, result.grads.map((g) => g.buffer as ArrayBuffer));
    } catch (err) {
      const reply: WorkerReply = { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
      port.postMessage(reply);
    }
  });
  port.postMessage({ ok: true, ready: true, backend: tf.getBackend() } satisfies WorkerReply);
}

main().catch((err: unknown) => {
  port.postMessage({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies WorkerReply);
});
