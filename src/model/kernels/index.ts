/**
 * The wasm kernels training needs: `Conv2DBackpropFilter` (missing from the wasm backend, so conv
 * nets cannot train on it) and faster forms of three slow ones (`Conv2DBackpropInput`, transposed
 * `BatchMatMul`, `MaxPoolGrad`). See wasm-kernel-utils.ts for how these kernels call the backend's own kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilter } from './conv2d-backprop-filter.js';
import { makeConv2dBackpropInput } from './conv2d-backprop-input.js';
import { makeBatchMatMul } from './batch-matmul.js';
import { makeMaxPoolGrad } from './max-pool-grad.js';
import { asSingleOutput, WASM, wasmKernelConfig, type SingleOutputKernel } from './wasm-kernel-utils.js';

// Marks our kernel functions, so registering twice (even from a second copy of this module) is a no-op.
const OURS = Symbol.for('twinsearch.wasmTrainingKernel');
type MarkedKernel = tf.KernelFunc & { [OURS]?: true };

function mark(kernelFunc: SingleOutputKernel): tf.KernelFunc {
  const marked: MarkedKernel = kernelFunc;
  marked[OURS] = true;
  return marked;
}

function isOurs(config: tf.KernelConfig | undefined): boolean {
  return config !== undefined && (config.kernelFunc as MarkedKernel)[OURS] === true;
}

/** Adds a kernel the wasm backend lacks. */
function addKernel(kernelName: string, kernelFunc: SingleOutputKernel): void {
  const existing = tf.getKernel(kernelName, WASM);
  if (isOurs(existing)) return;
  // A kernel someone else registered for this name wins: never replace it silently.
  if (existing !== undefined) return;
  tf.registerKernel({ kernelName, backendName: WASM, kernelFunc: mark(kernelFunc) });
}

/**
 * Replaces a wasm kernel with a faster one that delegates to the original for cases it does not
 * handle. The original's setupFunc / disposeFunc are kept: they bind the wasm functions the
 * original (and our fallback to it) calls, when the backend initialises.
 */
function overrideKernel(kernelName: string, makeFaster: (original: SingleOutputKernel) => SingleOutputKernel): void {
  const original = wasmKernelConfig(kernelName);
  if (isOurs(original)) return;
  tf.unregisterKernel(kernelName, WASM);
  tf.registerKernel({ ...original, kernelFunc: mark(makeFaster(asSingleOutput(original.kernelFunc, kernelName))) });
}

/** Which of the faster overrides to install (all by default); the missing filter gradient is always added. */
export interface WasmKernelOptions {
  /** Conv2DBackpropInput as a Conv2D with a rotated filter (stride 1). Default true. */
  fastConv2dBackpropInput?: boolean;
  /** BatchMatMul with explicit transposes. Default true. */
  fastBatchMatMul?: boolean;
  /** MaxPoolGrad as one scan per pooling window. Default true. */
  fastMaxPoolGrad?: boolean;
}

/**
 * Registers the project's wasm kernels. Call it after `import '@tensorflow/tfjs-backend-wasm'`
 * (which registers the backend's own kernels) and, ideally, before `tf.setBackend('wasm')`.
 * Safe to call more than once. Throws if the wasm backend's kernels are not registered.
 *
 * @example
 * await import('@tensorflow/tfjs-backend-wasm');
 * registerWasmTrainingKernels();
 * await tf.setBackend('wasm'); // conv nets now train on wasm
 */
export function registerWasmTrainingKernels(options: WasmKernelOptions = {}): void {
  // Fails early, with a clear message, when the wasm backend was not imported.
  wasmKernelConfig(tf.Conv2D);
  addKernel(tf.Conv2DBackpropFilter, conv2dBackpropFilter);
  if (options.fastConv2dBackpropInput ?? true) overrideKernel(tf.Conv2DBackpropInput, makeConv2dBackpropInput);
  if (options.fastBatchMatMul ?? true) overrideKernel(tf.BatchMatMul, makeBatchMatMul);
  if (options.fastMaxPoolGrad ?? true) overrideKernel(tf.MaxPoolGrad, makeMaxPoolGrad);
}
