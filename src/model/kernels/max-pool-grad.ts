/**
 * A faster `MaxPoolGrad` for the wasm backend.
 *
 * After the convolution kernels are fixed, the wasm backend's own MaxPoolGrad is the slowest part
 * of a conv net's backward pass (it revisits every window for every input pixel). This one scans
 * each pooling window once and sends dy to the window's maximum, with the cpu backend's rules:
 * the first strict maximum in row-major window order wins ties, padding never wins, and a window
 * with no maximum (all NaN or -Infinity) sends nothing. Channels are the innermost loop, so
 * memory is read in order.
 */
import * as tf from '@tensorflow/tfjs';
import { inputsOf, wasmBackendOf, type KernelArgs, type SingleOutputKernel } from './wasm-kernel-utils.js';

/**
 * Builds the `MaxPoolGrad` kernel function: the window scan for float32 data, `original` otherwise.
 *
 * @example
 * const original = tf.getKernel('MaxPoolGrad', 'wasm');
 * tf.unregisterKernel('MaxPoolGrad', 'wasm');
 * tf.registerKernel({ ...original, kernelFunc: makeMaxPoolGrad(asSingleOutput(original.kernelFunc, 'MaxPoolGrad')) });
 */
export function makeMaxPoolGrad(original: SingleOutputKernel): SingleOutputKernel {
  return (args: KernelArgs) => {
    const { dy, input } = inputsOf(args, ['dy', 'input'], tf.MaxPoolGrad);
    if (dy.dtype !== 'float32' || input.dtype !== 'float32') return original(args);
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as tf.MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
    const backend = wasmBackendOf(args);
    const dx = backend.makeOutput(input.shape, 'float32');
    // Heap views are taken after the only allocation: a heap growth would detach earlier views.
    const xValues = backend.typedArrayFromHeap(input);
    const dyValues = backend.typedArrayFromHeap(dy);
    const dxValues = backend.typedArrayFromHeap(dx);
    dxValues.fill(0);
    const best = new Float32Array(channels);
    const bestIndex = new Int32Array(channels);
    for (let b = 0; b < batchSize; ++b) {
      for (let yR = 0; yR < outHeight; ++yR) {
        const rowCorner = yR * strideHeight - info.padInfo.top;
        const rowStart = Math.max(0, rowCorner);
        const rowEnd = Math.min(inHeight, rowCorner + filterHeight);
        for (let yC = 0; yC < outWidth; ++yC) {
          const colCorner = yC * strideWidth - info.padInfo.left;
          const colStart = Math.max(0, colCorner);
          const colEnd = Math.min(inWidth, colCorner + filterWidth);
          best.fill(Number.NEGATIVE_INFINITY);
          bestIndex.fill(-1);
          for (let xR = rowStart; xR < rowEnd; ++xR) {
            for (let xC = colStart; xC < colEnd; ++xC) {
              const pixel = ((b * inHeight + xR) * inWidth + xC) * channels;
              for (let d = 0; d < channels; ++d) {
                const value = xValues[pixel + d];
                if (value > best[d]) {
                  best[d] = value;
                  bestIndex[d] = pixel + d;
                }
              }
            }
          }
          const dyOffset = ((b * outHeight + yR) * outWidth + yC) * channels;
          for (let d = 0; d < channels; ++d) {
            if (bestIndex[d] >= 0) dxValues[bestIndex[d]] += dyValues[dyOffset + d];
          }
        }
      }
    }
    return dx;
  };
}
