/**
 * Does a head trained on the user's identities beat the pretrained face tower as published? The
 * descriptors of every AT&T photo are computed once (src/face's stage: tiny detector, 68 landmarks
 * twice, dlib alignment; then face-api's 128-d recognition net) and cached; heads are then trained on
 * those 128-d vectors with the project's losses (contrastive, CosFace) and compared with zero-shot:
 * k-fold by identity on s1-s30 (each fold's people unseen by its head), then trained on s1-s30 and
 * scored on s31-s40. Scores are src/eval/verify.ts's scoreVerification (EER, TAR@FAR, rank-1) and the
 * open-set TIR at FPIR 1% of src/train/open-set.ts on the scored people alone.
 *
 * npx tsx scripts/research/face-head.ts [--data DIR] [--out DIR] [--cache FILE] [--folds 5] [--steps 400] [--seed 1]
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { datasetsDir } from '../../src/data/datasets.js';
import { createRng } from '../../src/data/rng.js';
import { scoreVerification } from '../../src/eval/verify.js';
import { initBackend } from '../../src/model/backend.js';
import { cosFaceLoss, pairwiseDistances } from '../../src/model/losses.js';
import { l2NormalizeRows } from '../../src/model/embed.js';
import { calibrateOpenSet, openSetTrials } from '../../src/train/open-set.js';
import { writeFileAtomic } from '../../src/util/atomic.js';
import { loadFaceStage, loadFaceTower } from '../../src/face/index.js';

const program = new Command()
  .option('--data <dir>', 'AT&T faces (s1..s40/N.png)', join(datasetsDir(), 'att-faces'))
  .option('--out <dir>', 'where head.json and head.md go', 'docs/research/2026-12-face-head')
  .option('--cache <file>', 'descriptor cache (keyed by the weight files hashes)', join(tmpdir(), 'twinsearch-face-head-att.json'))
  .option('--folds <k>', 'folds by identity over s1-s30', (v) => Number(v), 5)
  .option('--steps <n>', 'head training steps', (v) => Number(v), 400)
  .option('--seed <n>', 'seed', (v) => Number(v), 1)
  .parse();
const opts = program.opts<{ data: string; out: string; cache: string; folds: number; steps: number; seed: number }>();
const command = `npx tsx scripts/research/face-head.ts ${process.argv.slice(2).join(' ')}`.trim();
const DIM = 128;

interface Descriptors {
  key: string;
  names: string[];
  files: string[];
  labels: number[];
  vectors: number[][];
  noFace: string[];
  seconds: number;
}

/** Every photo's descriptor (largest face), computed once per set of weight files and cached. */
async function descriptors(): Promise<Descriptors> {
  await initBackend({ preference: 'wasm' });
  const stage = await loadFaceStage();
  const tower = await loadFaceTower();
  const key = createHash('sha256').update([...stage.files, ...tower.files].map((f) => f.sha256).join(',') + opts.data).digest('hex');
  const cached = await readFile(opts.cache, 'utf8').then((t) => JSON.parse(t) as Descriptors).catch(() => undefined);
  if (cached?.key === key) {
    stage.dispose();
    tower.dispose();
    return cached;
  }
  const started = performance.now();
  const out: Descriptors = { key, names: [], files: [], labels: [], vectors: [], noFace: [], seconds: 0 };
  for (let s = 1; s <= 40; s++) {
    const name = `s${s}`;
    out.names.push(name);
    for (let i = 1; i <= 10; i++) {
      const file = join(opts.data, name, `${i}.png`);
      const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      const faces = await stage.detect(data, info.width, info.height);
      if (!faces.length) {
        out.noFace.push(`${name}/${i}.png`);
        continue;
      }
      const [vector] = await tower.embed([faces[0]!.crop]);
      out.files.push(`${name}/${i}.png`);
      out.labels.push(s - 1);
      out.vectors.push(Array.from(vector!));
    }
    process.stderr.write(`described ${name} (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  }
  out.seconds = (performance.now() - started) / 1000;
  stage.dispose();
  tower.dispose();
  await writeFileAtomic(opts.cache, JSON.stringify(out));
  return out;
}

interface HeadConfig {
  label: string;
  kind: 'linear' | 'residual-mlp';
  loss: 'contrastive' | 'cosface';
  /** L2-normalise the head's output (and the zero-shot descriptors it is compared with). */
  normalize: boolean;
  /** Pull towards the pretrained map: lambda * |W - I|^2 (linear) or lambda * |W2|^2 (residual). */
  lambda: number;
  lr: number;
}

const CONFIGS: HeadConfig[] = [
  { label: 'linear, contrastive (margin 1), raw output', kind: 'linear', loss: 'contrastive', normalize: false, lambda: 0, lr: 1e-3 },
  { label: 'linear, contrastive, raw output, pulled to identity (1e-2)', kind: 'linear', loss: 'contrastive', normalize: false, lambda: 1e-2, lr: 1e-3 },
  { label: 'linear, CosFace (s 16, m 0.2), unit output', kind: 'linear', loss: 'cosface', normalize: true, lambda: 0, lr: 1e-3 },
  { label: 'linear, CosFace, unit output, pulled to identity (1e-2)', kind: 'linear', loss: 'cosface', normalize: true, lambda: 1e-2, lr: 1e-3 },
  { label: 'residual MLP (128-256-128), CosFace, unit output', kind: 'residual-mlp', loss: 'cosface', normalize: true, lambda: 1e-3, lr: 1e-3 },
];

type Apply = (x: Float32Array, count: number) => Float32Array;

/** Trains a head on (vectors, labels) and returns the function that maps descriptors through it. */
function trainHead(config: HeadConfig, vectors: Float32Array, labels: Int32Array, seed: number): Apply {
  const classes = [...new Set(labels)].sort((a, b) => a - b);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const byClass = classes.map((c) => [...labels.keys()].filter((i) => labels[i] === c));
  const rng = createRng(seed);
  const vars: tf.Variable[] = [];
  const v = (t: tf.Tensor) => {
    const variable = tf.variable(t);
    t.dispose();
    vars.push(variable);
    return variable;
  };
  const W = config.kind === 'linear' ? v(tf.eye(DIM)) : v(tf.randomNormal([DIM, 256], 0, Math.sqrt(2 / DIM), 'float32', seed));
  const b = config.kind === 'linear' ? v(tf.zeros([DIM])) : v(tf.zeros([256]));
  const W2 = config.kind === 'residual-mlp' ? v(tf.zeros([256, DIM])) : undefined;
  const proxies = config.loss === 'cosface' ? v(tf.randomNormal([classes.length, DIM], 0, 1, 'float32', seed + 1)) : undefined;
  const forward = (x: tf.Tensor2D): tf.Tensor2D => {
    const y = config.kind === 'linear' ? tf.add(tf.matMul(x, W), b) : tf.add(x, tf.matMul(tf.relu(tf.add(tf.matMul(x, W), b)), W2!));
    return (config.normalize ? l2NormalizeRows(y as tf.Tensor2D) : y) as tf.Tensor2D;
  };
  // Proxies start at the class means of the pretrained descriptors: CosFace then refines, not discovers.
  if (proxies) {
    const means = classes.map((_, ci) => {
      const m = new Float32Array(DIM);
      for (const i of byClass[ci]!) for (let j = 0; j < DIM; j++) m[j]! += vectors[i * DIM + j]!;
      return Array.from(m);
    });
    proxies.assign(tf.tensor2d(means));
  }
  const optimizer = tf.train.adam(config.lr);
  const P = Math.min(16, classes.length);
  const K = 4;
  for (let step = 0; step < opts.steps; step++) {
    const picked: number[] = [];
    const order = classes.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const ci of order.slice(0, P)) for (let k = 0; k < K; k++) picked.push(byClass[ci]![Math.floor(rng.next() * byClass[ci]!.length)]!);
    const x = new Float32Array(picked.length * DIM);
    picked.forEach((i, r) => x.set(vectors.subarray(i * DIM, (i + 1) * DIM), r * DIM));
    const batchLabels = picked.map((i) => labels[i]!);
    optimizer.minimize(() => {
      const emb = forward(tf.tensor2d(x, [picked.length, DIM]));
      let loss: tf.Scalar;
      if (config.loss === 'cosface') {
        loss = cosFaceLoss(emb, proxies! as tf.Tensor2D, tf.tensor1d(batchLabels.map((l) => classIndex.get(l)!), 'int32'), 16, 0.2);
      } else {
        // Every pair of the batch once (upper triangle), as the contrastive loss of src/model/losses.ts;
        // masks instead of a gather, whose gradient the wasm backend lacks.
        const n = picked.length;
        const d = pairwiseDistances(emb);
        const same = tf.cast(tf.equal(tf.expandDims(tf.tensor1d(batchLabels, 'int32'), 1), tf.expandDims(tf.tensor1d(batchLabels, 'int32'), 0)), 'float32');
        const upper = tf.sub(tf.linalg.bandPart(tf.ones([n, n]), 0, -1), tf.eye(n));
        const perPair = tf.div(tf.add(tf.mul(same, tf.square(d)), tf.mul(tf.sub(1, same), tf.square(tf.relu(tf.sub(1, d))))), 2);
        loss = tf.div(tf.sum(tf.mul(perPair, upper)), tf.sum(upper)) as tf.Scalar;
      }
      if (config.lambda > 0) {
        const pull = config.kind === 'linear' ? tf.sum(tf.square(tf.sub(W, tf.eye(DIM)))) : tf.sum(tf.square(W2!));
        loss = tf.add(loss, tf.mul(pull, config.lambda));
      }
      return loss;
    });
  }
  optimizer.dispose();
  return (input, count) => {
    const out = tf.tidy(() => forward(tf.tensor2d(input, [count, DIM])));
    const data = out.dataSync() as Float32Array;
    out.dispose();
    return Float32Array.from(data);
  };
}

function normalizeRows(x: Float32Array): Float32Array {
  const out = Float32Array.from(x);
  for (let r = 0; r < x.length / DIM; r++) {
    let n = 0;
    for (let j = 0; j < DIM; j++) n += x[r * DIM + j]! ** 2;
    n = Math.sqrt(n) || 1;
    for (let j = 0; j < DIM; j++) out[r * DIM + j] = x[r * DIM + j]! / n;
  }
  return out;
}

interface Score {
  eer: number;
  tarAtFar1e3: number;
  rank1: number;
  tirAtFpir1: number;
  fpir: number;
}

function score(vectors: Float32Array, labels: Int32Array): Score {
  const { scores } = scoreVerification(vectors, DIM, labels, { fars: [1e-3] });
  const open = calibrateOpenSet(openSetTrials(vectors, DIM, labels), 0.01);
  return { eer: scores.eer, tarAtFar1e3: scores.tarAtFar['0.001']!, rank1: scores.rank1, tirAtFpir1: open.tir, fpir: open.fpir };
}

function subset(all: Float32Array, labels: Int32Array, identities: Set<number>): { x: Float32Array; y: Int32Array } {
  const rows = [...labels.keys()].filter((i) => identities.has(labels[i]!));
  const x = new Float32Array(rows.length * DIM);
  rows.forEach((i, r) => x.set(all.subarray(i * DIM, (i + 1) * DIM), r * DIM));
  return { x, y: Int32Array.from(rows, (i) => labels[i]!) };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

async function main(): Promise<void> {
  const d = await descriptors();
  await initBackend({ preference: 'wasm' });
  const vectors = Float32Array.from(d.vectors.flat());
  const labels = Int32Array.from(d.labels);
  const norms = d.vectors.map((v) => Math.hypot(...v));
  process.stderr.write(`${d.files.length} descriptors (${d.noFace.length} photos without a face), norms ${Math.min(...norms).toFixed(3)}-${Math.max(...norms).toFixed(3)}\n`);

  const methods: Array<{ label: string; run: (train: { x: Float32Array; y: Int32Array }, test: { x: Float32Array; y: Int32Array }, seed: number) => Float32Array }> = [
    { label: 'zero-shot (descriptors as published)', run: (_, test) => test.x },
    { label: 'zero-shot, unit-length descriptors', run: (_, test) => normalizeRows(test.x) },
    ...CONFIGS.map((config) => ({ label: config.label, run: (train: { x: Float32Array; y: Int32Array }, test: { x: Float32Array; y: Int32Array }, seed: number) => trainHead(config, train.x, train.y, seed)(test.x, test.y.length) })),
  ];

  // k-fold by identity over s1-s30: shuffled once, round-robin.
  const development = Array.from({ length: 30 }, (_, i) => i);
  const rng = createRng(opts.seed);
  for (let i = development.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [development[i], development[j]] = [development[j]!, development[i]!];
  }
  const folds = Array.from({ length: opts.folds }, (_, f) => development.filter((_, i) => i % opts.folds === f));
  const results = [];
  for (const method of methods) {
    const started = performance.now();
    const perFold: Score[] = folds.map((held, f) => {
      const test = subset(vectors, labels, new Set(held));
      const train = subset(vectors, labels, new Set(development.filter((i) => !held.includes(i))));
      return score(method.run(train, test, opts.seed + f), test.y);
    });
    const train = subset(vectors, labels, new Set(development));
    const test = subset(vectors, labels, new Set(Array.from({ length: 10 }, (_, i) => 30 + i)));
    const heldOut = score(method.run(train, test, opts.seed), test.y);
    const summary = {
      method: method.label,
      kfold: { eer: mean(perFold.map((s) => s.eer)), rank1: mean(perFold.map((s) => s.rank1)), tarAtFar1e3: mean(perFold.map((s) => s.tarAtFar1e3)), tirAtFpir1: mean(perFold.map((s) => s.tirAtFpir1)), folds: perFold },
      s31s40: heldOut,
      seconds: (performance.now() - started) / 1000,
    };
    results.push(summary);
    process.stderr.write(`${method.label}: k-fold EER ${pct(summary.kfold.eer)} rank-1 ${pct(summary.kfold.rank1)}; s31-s40 EER ${pct(heldOut.eer)} rank-1 ${pct(heldOut.rank1)} TIR@FPIR1% ${pct(heldOut.tirAtFpir1)}\n`);
  }

  const meta = {
    command,
    date: new Date().toISOString(),
    data: opts.data,
    descriptors: { images: d.files.length, noFace: d.noFace, secondsToCompute: d.seconds },
    folds: folds.map((f) => f.map((i) => d.names[i])),
    steps: opts.steps,
    seed: opts.seed,
    backend: tf.getBackend(),
  };
  await mkdir(opts.out, { recursive: true });
  await writeFileAtomic(join(opts.out, 'head.json'), `${JSON.stringify({ ...meta, configs: CONFIGS, results }, null, 2)}\n`);
  const lines = [
    `<!-- ${command} (${meta.date}) -->`,
    `| method | ${opts.folds}-fold by identity on s1-s30: EER (mean) | rank-1 | TAR@FAR 0.1% | TIR@FPIR 1% | s31-s40 (head trained on s1-s30): EER | rank-1 | TAR@FAR 0.1% | TIR@FPIR 1% |`,
    '|---|---|---|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.method} | ${pct(r.kfold.eer)} | ${pct(r.kfold.rank1)} | ${pct(r.kfold.tarAtFar1e3)} | ${pct(r.kfold.tirAtFpir1)} | ${pct(r.s31s40.eer)} | ${pct(r.s31s40.rank1)} | ${pct(r.s31s40.tarAtFar1e3)} | ${pct(r.s31s40.tirAtFpir1)} |`),
  ];
  await writeFileAtomic(join(opts.out, 'head.md'), `${lines.join('\n')}\n`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
