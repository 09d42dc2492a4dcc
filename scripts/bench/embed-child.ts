/**
 * One backend of the embedding benchmark (see embed.ts), in its own process because tfjs
 * has one engine per process. Prints one JSON line: images/s per batch size and the matmul peak.
 *
 *   tsx scripts/bench/embed-child.ts '<json EmbedChildJob>'
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend, parseBackendPreference } from '../../src/model/backend.js';
import { DEFAULT_PREPROCESS, DEFAULT_TOWER } from '../../src/model/config.js';
import { embed } from '../../src/model/embed.js';
import { loadModel } from '../../src/model/io.js';
import { buildTower, towerSummary } from '../../src/model/tower.js';

export interface EmbedChildJob {
  backend: string;
  batches: number[];
  /** Minimum seconds timed per batch size (at least `minPasses` passes). */
  seconds: number;
  minPasses: number;
  /** Square matmul sizes tried for the peak. */
  matmulSizes: number[];
  /** Model directory; default: the default conv4 tower with random weights. */
  modelDir?: string;
}

export interface EmbedChildResult {
  backend: string;
  tower: { name: string; parameters: number; flopsPerImage: number; inputShape: number[] };
  rows: { batch: number; passes: number; seconds: number; imagesPerSecond: number; msPerPass: number; gflops: number }[];
  matmul: { size: number; runs: number; seconds: number; gflops: number }[];
  peakGflops: number;
}

/** Repeats `run` (after one warm-up) until `seconds` have passed and at least `minRuns` ran. */
function timeRepeated(run: () => void, seconds: number, minRuns: number): { runs: number; seconds: number } {
  run();
  let runs = 0;
  const started = performance.now();
  while (runs < minRuns || performance.now() - started < seconds * 1000) {
    run();
    runs++;
  }
  return { runs, seconds: (performance.now() - started) / 1000 };
}

/** GFLOP/s of an n x n by n x n matmul on the active backend (2 n^3 flops, data read back each time). */
function matmulGflops(size: number, seconds: number): EmbedChildResult['matmul'][number] {
  const a = tf.randomUniform([size, size]);
  const b = tf.randomUniform([size, size]);
  try {
    const t = timeRepeated(() => {
      const c = tf.matMul(a, b);
      c.dataSync();
      c.dispose();
    }, seconds, 2);
    return { size, runs: t.runs, seconds: t.seconds, gflops: (2 * size ** 3 * t.runs) / t.seconds / 1e9 };
  } finally {
    a.dispose();
    b.dispose();
  }
}

/**
 * @example
 * const r = await runEmbedChild({ backend: 'wasm', batches: [1, 8, 64], seconds: 3, minPasses: 3, matmulSizes: [256, 512, 1024] });
 */
export async function runEmbedChild(job: EmbedChildJob): Promise<EmbedChildResult> {
  const info = await initBackend({ preference: parseBackendPreference(job.backend), strict: true, log: () => {} });
  const { tower, name } = job.modelDir
    ? { tower: (await loadModel(job.modelDir)).tower, name: job.modelDir }
    : { tower: buildTower(DEFAULT_TOWER, DEFAULT_PREPROCESS, 7), name: `${DEFAULT_TOWER.arch} (${DEFAULT_TOWER.filters} filters, ${DEFAULT_TOWER.embeddingSize}-d), random weights` };
  const summary = towerSummary(tower);
  // The tower's own input shape: [height, width, channels].
  const [h, w, c] = tower.inputs[0].shape.slice(1).map((d) => d ?? 1);
  const shape: [number, number, number] = [h, w, c];
  const rows: EmbedChildResult['rows'] = [];
  for (const batch of job.batches) {
    const x = tf.randomUniform([batch, ...shape]) as tf.Tensor4D;
    try {
      const t = timeRepeated(() => {
        const e = embed(tower, x, { l2Normalize: true });
        e.dataSync();
        e.dispose();
      }, job.seconds, job.minPasses);
      const imagesPerSecond = (batch * t.runs) / t.seconds;
      rows.push({ batch, passes: t.runs, seconds: t.seconds, imagesPerSecond, msPerPass: (t.seconds * 1000) / t.runs, gflops: (imagesPerSecond * summary.flopsPerImage) / 1e9 });
    } finally {
      x.dispose();
    }
  }
  const matmul = job.matmulSizes.map((size) => matmulGflops(size, Math.min(job.seconds, 2)));
  tower.dispose();
  return {
    backend: info.name,
    tower: { name, parameters: summary.parameters, flopsPerImage: summary.flopsPerImage, inputShape: shape },
    rows,
    matmul,
    peakGflops: Math.max(...matmul.map((m) => m.gflops)),
  };
}

if (process.argv[1]?.endsWith('embed-child.ts')) {
  const result = await runEmbedChild(JSON.parse(process.argv[2] ?? '{}') as EmbedChildJob);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}
