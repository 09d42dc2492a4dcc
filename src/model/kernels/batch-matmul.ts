/**
 * A faster `BatchMatMul` for the wasm backend when an operand is transposed.
 *
 * The wasm kernel is slow with `transposeA` / `transposeB` (a dense layer's backward pass uses
 * both); transposing the operand explicitly first and multiplying without the flag is several
 * times faster (344 ms vs 14 ms seen for a 36864x128 weight).
 */
import * as tf from '@tensorflow/tfjs';
import { inputsOf, transposeInnerTwo, wasmBackendOf, withScratch, type KernelArgs, type SingleOutputKernel } from './wasm-kernel-utils.js';

/**
 * Builds the `BatchMatMul` kernel function: explicit transposes, then `original` without the flags.
 *
 * @example
 * const original = tf.getKernel('BatchMatMul', 'wasm');
 * tf.unregisterKernel('BatchMatMul', 'wasm');
 * tf.registerKernel({ ...original, kernelFunc: makeBatchMatMul(asSingleOutput(original.kernelFunc, 'BatchMatMul')) });
 */
export function makeBatchMatMul(original: SingleOutputKernel): SingleOutputKernel {
  return (args: KernelArgs) => {
    const { a, b } = inputsOf(args, ['a', 'b'], tf.BatchMatMul);
    const { transposeA, transposeB } = args.attrs as unknown as tf.BatchMatMulAttrs;
    // Nothing to gain without a transpose; other dtypes get the original kernel's own error.
    if ((!transposeA && !transposeB) || a.dtype !== 'float32' || b.dtype !== 'float32') return original(args);
    const backend = wasmBackendOf(args);
    return withScratch(backend, (scratch) => {
      const aPlain = transposeA ? scratch.keep(transposeInnerTwo(backend, a)) : a;
      const bPlain = transposeB ? scratch.keep(transposeInnerTwo(backend, b)) : b;
      return original({ ...args, inputs: { a: aPlain, b: bPlain }, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
    });
  };
}
