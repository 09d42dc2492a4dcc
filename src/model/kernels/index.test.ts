/**
 * The project's wasm kernels against the cpu backend (the reference): gradients of conv2d,
 * maxPool, matMul and a small conv model must agree, and the kernels must leave nothing on the wasm heap.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { chooseFilterGradMethod, FILTER_GRAD_METHODS, type FilterGradMethod } from './conv2d-backprop-filter.js';
import { registerWasmTrainingKernels } from './index.js';

type BackendName = 'cpu' | 'wasm';

/** Largest difference allowed, relative to the largest magnitude in the reference tensor. */
const RELATIVE_TOLERANCE = 1e-4;

beforeAll(async () => {
  registerWasmTrainingKernels();
  expect(await tf.setBackend('wasm')).toBe(true);
});

/** Deterministic values in [-1, 1) (mulberry32), identical on every backend. */
function randomValues(size: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    values[i] = ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return values;
}

function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), seed), shape);
}

/** Runs `compute` on `backend` and copies its results out as plain arrays, leaving no tensors behind. */
async function onBackend(backend: BackendName, compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  expect(await tf.setBackend(backend)).toBe(true);
  const outputs = tf.tidy(compute);
  const arrays = outputs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose(outputs);
  await tf.setBackend('wasm');
  return arrays;
}

function maxAbs(values: Float32Array): number {
  let max = 0;
  for (const v of values) max = Math.max(max, Math.abs(v));
  return max;
}

function expectClose(actual: Float32Array, expected: Float32Array, label: string): void {
  expect(actual.length, `${label}: size`).toBe(expected.length);
  const scale = maxAbs(expected);
  expect(scale, `${label}: the reference must not be all zeros`).toBeGreaterThan(0);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst / scale, `${label}: max |wasm - cpu| / max |cpu|`).toBeLessThanOrEqual(RELATIVE_TOLERANCE);
}

/** Runs `compute` on wasm and on cpu and expects every output to agree. */
async function expectWasmMatchesCpu(compute: () => tf.Tensor[], label: string): Promise<void> {
  const reference = await onBackend('cpu', compute);
  const actual = await onBackend('wasm', compute);
  expect(actual.length).toBe(reference.length);
  actual.forEach((values, i) => expectClose(values, reference[i], `${label} [output ${i}]`));
}

interface ConvCase {
  name: string;
  /** [batch, height, width, inChannels] */
  xShape: [number, number, number, number];
  kernelSize: number;
  outChannels: number;
  strides: number | [number, number];
  pad: 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;
}

const convCases: ConvCase[] = [
  { name: '3x3 stride 1 same', xShape: [2, 8, 8, 3], kernelSize: 3, outChannels: 4, strides: 1, pad: 'same' },
  { name: '5x5 stride 1 valid, non-square input', xShape: [3, 7, 9, 2], kernelSize: 5, outChannels: 3, strides: 1, pad: 'valid' },
  { name: '1x1 stride 1 same, batch 1', xShape: [1, 6, 6, 4], kernelSize: 1, outChannels: 5, strides: 1, pad: 'same' },
  { name: '5x5 stride 1 same, one input channel', xShape: [4, 9, 9, 1], kernelSize: 5, outChannels: 8, strides: 1, pad: 'same' },
  { name: '3x3 stride 1 explicit asymmetric padding', xShape: [4, 8, 8, 1], kernelSize: 3, outChannels: 6, strides: 1, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  { name: '3x3 stride 1 numeric padding', xShape: [2, 6, 7, 3], kernelSize: 3, outChannels: 2, strides: 1, pad: 1 },
  { name: '1x1 stride 1 padding wider than the kernel', xShape: [2, 5, 5, 2], kernelSize: 1, outChannels: 3, strides: 1, pad: [[0, 0], [1, 1], [2, 0], [0, 0]] },
  { name: '3x3 stride 2 same', xShape: [2, 9, 9, 3], kernelSize: 3, outChannels: 2, strides: 2, pad: 'same' },
  { name: '5x5 stride 2 valid', xShape: [2, 9, 8, 2], kernelSize: 5, outChannels: 3, strides: 2, pad: 'valid' },
  { name: '1x1 stride 2 same', xShape: [3, 6, 6, 4], kernelSize: 1, outChannels: 2, strides: 2, pad: 'same' },
  { name: '3x3 stride 2 same, uneven padding', xShape: [2, 8, 9, 3], kernelSize: 3, outChannels: 4, strides: 2, pad: 'same' },
  { name: '3x3 stride 2 explicit asymmetric padding', xShape: [2, 8, 7, 2], kernelSize: 3, outChannels: 3, strides: 2, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { name: '3x3 strides [2, 1] explicit padding', xShape: [2, 7, 6, 2], kernelSize: 3, outChannels: 3, strides: [2, 1], pad: [[0, 0], [1, 0], [1, 1], [0, 0]] },
  { name: '3x3 stride 1 same, training-sized', xShape: [16, 14, 14, 16], kernelSize: 3, outChannels: 32, strides: 1, pad: 'same' },
];

function convGradients(c: ConvCase, seed: number): () => tf.Tensor[] {
  return () => {
    const x = randomTensor(c.xShape, seed) as tf.Tensor4D;
    const filter = randomTensor([c.kernelSize, c.kernelSize, c.xShape[3], c.outChannels], seed + 1) as tf.Tensor4D;
    // sin makes dy vary per element (a plain sum would give dy = 1 everywhere).
    const loss = (xx: tf.Tensor, ff: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, c.strides, c.pad).sin().sum();
    return tf.grads(loss)([x, filter]);
  };
}

describe('conv2d gradients on wasm match cpu', () => {
  for (const [i, c] of convCases.entries()) {
    it(`${c.name}: x ${c.xShape.join('x')}, ${c.kernelSize}x${c.kernelSize}x${c.outChannels}`, async () => {
      await expectWasmMatchesCpu(convGradients(c, 100 + 10 * i), c.name);
    });
  }

  it('gives the filter gradient when called as a kernel with a dimRoundingMode', async () => {
    const compute = () => {
      const x = randomTensor([2, 8, 8, 2], 7);
      const dy = randomTensor([2, 4, 4, 3], 8);
      const attrs = { strides: 2, pad: 1, dataFormat: 'NHWC', dimRoundingMode: 'floor', filterShape: [3, 3, 2, 3] };
      return [tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs) as tf.Tensor];
    };
    await expectWasmMatchesCpu(compute, 'Conv2DBackpropFilter with dimRoundingMode');
  });

  it('rejects NCHW data with a clear error', () => {
    const x = tf.zeros([1, 2, 5, 5]);
    const dy = tf.zeros([1, 3, 5, 5]);
    const attrs = { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] };
    expect(() => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, attrs)).toThrow(/NHWC/);
    tf.dispose([x, dy]);
  });
});

describe('each Conv2DBackpropFilter method matches cpu', () => {
  function convInfoOf(c: ConvCase): tf.backend_util.Conv2DInfo {
    return tf.backend_util.computeConv2DInfo(c.xShape, [c.kernelSize, c.kernelSize, c.xShape[3], c.outChannels], c.strides, 1, c.pad);
  }

  for (const [i, c] of convCases.entries()) {
    const strideOne = convInfoOf(c).strideHeight === 1 && convInfoOf(c).strideWidth === 1;
    const methods: FilterGradMethod[] = strideOne ? ['patches', 'convolution', 'loop'] : ['patches', 'loop'];
    it(`${c.name}: ${methods.join(', ')}`, async () => {
      const info = convInfoOf(c);
      const x = () => randomTensor(c.xShape, 700 + i);
      const dy = () => randomTensor(info.outShape, 800 + i);
      const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', filterShape: info.filterShape };
      const [reference] = await onBackend('cpu', () => [tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: x(), dy: dy() }, attrs) as tf.Tensor]);
      for (const method of methods) {
        const [actual] = await onBackend('wasm', () => {
          const result = FILTER_GRAD_METHODS[method](tf.backend() as BackendWasm, x(), dy(), info);
          return [tf.engine().makeTensorFromTensorInfo(result)];
        });
        expectClose(actual, reference, `${c.name} by ${method}`);
      }
    });
  }

  it('picks patches while they fit in memory, then the convolution (stride 1) or the loop', () => {
    const method = (xShape: [number, number, number, number], filterShape: [number, number, number, number], strides: number) =>
      chooseFilterGradMethod(tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, 'same'));
    expect(method([64, 28, 28, 1], [3, 3, 1, 64], 1)).toBe('patches');
    expect(method([64, 14, 14, 64], [3, 3, 64, 64], 1)).toBe('patches');
    expect(method([64, 28, 28, 64], [3, 3, 64, 64], 2)).toBe('patches');
    expect(method([64, 48, 48, 64], [7, 7, 64, 128], 1)).toBe('convolution');
    expect(method([64, 105, 105, 64], [7, 7, 64, 128], 2)).toBe('loop');
  });
});

describe('maxPool gradients on wasm match cpu', () => {
  interface PoolCase {
    name: string;
    xShape: [number, number, number, number];
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'same' | 'valid' | number;
    /** Rounds inputs to a coarse grid after ReLU, so windows hold tied maxima (as after a ReLU layer). */
    ties?: boolean;
  }
  const poolCases: PoolCase[] = [
    { name: '2x2 stride 2 valid', xShape: [3, 8, 8, 5], filterSize: 2, strides: 2, pad: 'valid' },
    { name: '2x2 stride 2 valid, odd size', xShape: [2, 7, 9, 3], filterSize: 2, strides: 2, pad: 'valid' },
    { name: '3x3 stride 2 same (overlapping, padded)', xShape: [2, 9, 8, 4], filterSize: 3, strides: 2, pad: 'same' },
    { name: '3x3 stride 1 same', xShape: [2, 6, 6, 3], filterSize: 3, strides: 1, pad: 'same' },
    { name: '[2, 3] strides [1, 2] valid', xShape: [2, 7, 8, 2], filterSize: [2, 3], strides: [1, 2], pad: 'valid' },
    // tfjs sizes numeric padding from the filter height and row stride only: keep it square.
    { name: '3x3 stride 2 numeric padding', xShape: [2, 7, 9, 3], filterSize: 3, strides: 2, pad: 1 },
    { name: '2x2 stride 2 valid with tied maxima', xShape: [4, 8, 8, 6], filterSize: 2, strides: 2, pad: 'valid', ties: true },
    { name: '3x3 stride 2 same with tied maxima', xShape: [2, 9, 9, 4], filterSize: 3, strides: 2, pad: 'same', ties: true },
  ];
  for (const [i, c] of poolCases.entries()) {
    it(c.name, async () => {
      const compute = () => {
        const raw = randomTensor(c.xShape, 300 + i);
        const x = (c.ties ? raw.relu().mul(2).round().div(2) : raw) as tf.Tensor4D;
        return [tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, c.filterSize, c.strides, c.pad).sin().sum())(x)];
      };
      await expectWasmMatchesCpu(compute, c.name);
    });
  }
});

describe('matMul on wasm matches cpu', () => {
  const shapes: { name: string; a: number[]; b: number[] }[] = [
    { name: 'matrices', a: [5, 7], b: [7, 3] },
    { name: 'batched', a: [3, 4, 6], b: [3, 6, 5] },
    { name: 'dense-layer sized', a: [64, 300], b: [300, 48] },
  ];
  for (const s of shapes) {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        it(`${s.name}, transposeA=${transposeA}, transposeB=${transposeB}: product and gradients`, async () => {
          const swapInner = (shape: number[]) => [...shape.slice(0, -2), shape[shape.length - 1], shape[shape.length - 2]];
          const compute = () => {
            const a = randomTensor(transposeA ? swapInner(s.a) : s.a, 11);
            const b = randomTensor(transposeB ? swapInner(s.b) : s.b, 12);
            const product = tf.matMul(a, b, transposeA, transposeB);
            // Backprop through matMul runs BatchMatMul with transposed operands.
            const grads = tf.grads((aa: tf.Tensor, bb: tf.Tensor) => tf.matMul(aa, bb, transposeA, transposeB).sin().sum())([a, b]);
            return [product, ...grads];
          };
          await expectWasmMatchesCpu(compute, `${s.name} tA=${transposeA} tB=${transposeB}`);
        });
      }
    }
  }
});

describe('a small conv model on wasm matches cpu', () => {
  function buildModel(): tf.Sequential {
    const model = tf.sequential();
    model.add(tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    model.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'valid', activation: 'relu' }));
    model.add(tf.layers.conv2d({ filters: 8, kernelSize: 5, strides: 2, padding: 'same', activation: 'relu' }));
    model.add(tf.layers.flatten());
    model.add(tf.layers.dense({ units: 10 }));
    // Identical weights on every backend.
    model.setWeights(model.getWeights().map((w, i) => tf.tidy(() => randomTensor(w.shape, 500 + i).mul(0.3))));
    return model;
  }

  it('gives the same loss and variable gradients', async () => {
    const compute = () => {
      const model = buildModel();
      const x = randomTensor([6, 12, 12, 1], 21);
      const target = randomTensor([6, 10], 22);
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => tf.losses.meanSquaredError(target, model.predict(x) as tf.Tensor) as tf.Scalar, variables);
      const ordered = variables.map((v) => grads[v.name]);
      const result = [value, ...ordered].map((t) => t.clone());
      tf.dispose([value, ...Object.values(grads)]);
      model.dispose();
      return result;
    };
    await expectWasmMatchesCpu(compute, 'conv model');
  });
});

describe('kernel hygiene', () => {
  function expectNoLeak(run: () => void): void {
    run(); // warm up: the first call may set up backend state
    const tensorsBefore = tf.memory().numTensors;
    // The backend's own count includes intermediates created inside kernels, which the engine never sees.
    const buffersBefore = tf.backend().numDataIds();
    run();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(tf.backend().numDataIds()).toBe(buffersBefore);
  }

  it('leaves no tensors or wasm buffers behind', async () => {
    expect(tf.getBackend()).toBe('wasm');
    for (const c of convCases) {
      const x = randomTensor(c.xShape, 1) as tf.Tensor4D;
      const filter = randomTensor([c.kernelSize, c.kernelSize, c.xShape[3], c.outChannels], 2) as tf.Tensor4D;
      expectNoLeak(() => tf.dispose(tf.grads((xx: tf.Tensor, ff: tf.Tensor) => tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, c.strides, c.pad).sum())([x, filter])));
      tf.dispose([x, filter]);
    }
    const pooled = randomTensor([2, 8, 8, 3], 5) as tf.Tensor4D;
    expectNoLeak(() => tf.dispose(tf.grad((xx: tf.Tensor) => tf.maxPool(xx as tf.Tensor4D, 2, 2, 'valid').sum())(pooled)));
    pooled.dispose();
    const a = randomTensor([7, 5], 3);
    const b = randomTensor([3, 7], 4);
    expectNoLeak(() => tf.dispose(tf.matMul(a, b, true, true)));
    tf.dispose([a, b]);
  });

  it('is idempotent and keeps the setup of the kernels it replaces', () => {
    const names = [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput, tf.BatchMatMul, tf.MaxPoolGrad];
    const before = names.map((name) => tf.getKernel(name, 'wasm'));
    registerWasmTrainingKernels();
    const after = names.map((name) => tf.getKernel(name, 'wasm'));
    after.forEach((config, i) => expect(config.kernelFunc).toBe(before[i].kernelFunc));
    expect(tf.getKernel(tf.Conv2DBackpropInput, 'wasm').setupFunc).toBeTypeOf('function');
    expect(tf.getKernel(tf.BatchMatMul, 'wasm').setupFunc).toBeTypeOf('function');
    expect(tf.getKernel(tf.MaxPoolGrad, 'wasm').setupFunc).toBeTypeOf('function');
  });
});
