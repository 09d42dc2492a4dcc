/**
 * A faster `Conv2DBackpropInput` for the wasm backend.
 *
 * The wasm backend's own kernel is a plain loop. For stride 1 the input gradient is a convolution
 * of dy with the filter rotated 180 degrees and its in/out channels swapped, which XNNPACK's
 * `Conv2D` runs several times faster:
 *   dx[n, h, w, ci] = sum_{i, j, co} dyPadded[n, h + i, w + j, co] * f[kh-1-i, kw-1-j, ci, co]
 * with dy padded by (kh-1-padTop) rows on top and (kw-1-padLeft) columns on the left.
 * Other cases (strides > 1, paddings wider than the kernel, NCHW) go to the original kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backpropConvInfo, conv2dInfo, inputsOf, reverseInfo, transposeInfo, wasmBackendOf, withScratch, type KernelArgs, type SingleOutputKernel } from './wasm-kernel-utils.js';

/** The input gradient as a convolution; `undefined` when the stride-1 identity does not apply. */
function inputGradByConvolution(backend: BackendWasm, dy: tf.TensorInfo, filter: tf.TensorInfo, convInfo: tf.backend_util.Conv2DInfo): tf.TensorInfo | undefined {
  const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth, padInfo: pads } = convInfo;
  const top = filterHeight - 1 - pads.top;
  const left = filterWidth - 1 - pads.left;
  const bottom = inHeight - outHeight + pads.top;
  const right = inWidth - outWidth + pads.left;
  // A forward padding wider than the kernel would need negative padding (cropping) here.
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return undefined;
  return withScratch(backend, (scratch) => {
    const rotated = scratch.keep(reverseInfo(backend, filter, [0, 1]));
    const swapped = scratch.keep(transposeInfo(backend, rotated, [0, 1, 3, 2])); // [kh, kw, Cout, Cin]
    return conv2dInfo(backend, dy, swapped, [[0, 0], [top, bottom], [left, right], [0, 0]]);
  });
}

/**
 * Builds the `Conv2DBackpropInput` kernel function: the fast path for stride 1, `original` otherwise.
 *
 * @example
 * const original = tf.getKernel('Conv2DBackpropInput', 'wasm');
 * tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
 * tf.registerKernel({ ...original, kernelFunc: makeConv2dBackpropInput(asSingleOutput(original.kernelFunc, 'Conv2DBackpropInput')) });
 */
export function makeConv2dBackpropInput(original: SingleOutputKernel): SingleOutputKernel {
  return (args: KernelArgs) => {
    const { dy, filter } = inputsOf(args, ['dy', 'filter'], tf.Conv2DBackpropInput);
    const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
    const convInfo = backpropConvInfo(attrs.inputShape, filter.shape as [number, number, number, number], attrs);
    const fastPathApplies =
      convInfo.dataFormat === 'channelsLast' && convInfo.strideHeight === 1 && convInfo.strideWidth === 1 && dy.dtype === 'float32' && filter.dtype === 'float32';
    const viaConv = fastPathApplies ? inputGradByConvolution(wasmBackendOf(args), dy, filter, convInfo) : undefined;
    return viaConv ?? original(args);
  };
}
