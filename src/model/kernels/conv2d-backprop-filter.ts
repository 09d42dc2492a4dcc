/**
 * `Conv2DBackpropFilter` for the wasm backend, which ships without one (so conv nets cannot train on it).
 *
 *   dW[i, j, ci, co] = sum_{n, y, x} xPadded[n, y*sh + i, x*sw + j, ci] * dy[n, y, x, co]
 *
 * Three ways to compute it, chosen per call by `chooseFilterGradMethod`:
 * - `patches`: write the patch matrix P[(i, j, ci), (n, y, x)] (im2col) and multiply it by dy
 *   seen as [(n, y, x), co] with the backend's XNNPACK `BatchMatMul`. Any stride. Used whenever P
 *   fits in MAX_PATCH_ELEMENTS: measured as fast as or faster than `convolution` everywhere, and
 *   far faster for few input channels (64 images 28x28x1, 3x3x64: 5 ms vs 34 ms).
 * - `convolution` (stride 1): the gradient is itself a convolution, run by XNNPACK's `Conv2D`:
 *   a 'valid' conv of xPadded seen as [Cin, H, W, N] (batch = Cin, channels = N) with dy seen as
 *   the filter [Ho, Wo, N, Cout], giving [Cin, kh, kw, Cout], transposed to [kh, kw, Cin, Cout].
 *   XNNPACK re-packs that huge filter on every call, but it needs no buffer growing with kh*kw*Cin.
 * - `loop`: a plain typed-array loop, for strided convolutions too large for `patches`.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { assertChannelsLast, backpropConvInfo, conv2dInfo, inputsOf, matMulInfo, padInfo, transposeInfo, wasmBackendOf, withScratch, type KernelArgs } from './wasm-kernel-utils.js';

export type FilterGradMethod = 'patches' | 'convolution' | 'loop';

/** A filter-gradient implementation: x [N, H, W, Cin] and dy [N, Ho, Wo, Cout] to [kh, kw, Cin, Cout]. */
type FilterGradFn = (backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, convInfo: tf.backend_util.Conv2DInfo) => tf.TensorInfo;

/** Largest patch matrix (float32 elements; 128 MB) the `patches` method may allocate on the wasm heap (capped at 4 GB). */
export const MAX_PATCH_ELEMENTS = 32 * 1024 * 1024;

/**
 * Picks the fastest method that fits in memory: `patches` while its buffer fits, then
 * `convolution` for stride 1 and the `loop` otherwise.
 *
 * @example
 * chooseFilterGradMethod(tf.backend_util.computeConv2DInfo([64, 28, 28, 1], [3, 3, 1, 64], 1, 1, 'same')); // 'patches'
 */
export function chooseFilterGradMethod(convInfo: tf.backend_util.Conv2DInfo): FilterGradMethod {
  const { batchSize, outHeight, outWidth, filterHeight, filterWidth, inChannels, strideHeight, strideWidth } = convInfo;
  if (filterHeight * filterWidth * inChannels * batchSize * outHeight * outWidth <= MAX_PATCH_ELEMENTS) return 'patches';
  return strideHeight === 1 && strideWidth === 1 ? 'convolution' : 'loop';
}

/** The filter gradient as patch matrix x dy (im2col + XNNPACK matmul). */
function filterGradByPatches(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, convInfo: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = convInfo;
  const top = convInfo.padInfo.top;
  const left = convInfo.padInfo.left;
  const columns = batchSize * outHeight * outWidth;
  const patchRows = filterHeight * filterWidth * inChannels;
  return withScratch(backend, (scratch) => {
    const patches = scratch.keep(backend.makeOutput([patchRows, columns], 'float32'));
    // Heap views are taken after the allocation: a heap growth would detach earlier views.
    const xValues = backend.typedArrayFromHeap(x);
    const patchValues = backend.typedArrayFromHeap(patches);
    let column = 0;
    for (let b = 0; b < batchSize; ++b) {
      for (let yR = 0; yR < outHeight; ++yR) {
        for (let yC = 0; yC < outWidth; ++yC, ++column) {
          for (let wR = 0; wR < filterHeight; ++wR) {
            const xR = yR * strideHeight + wR - top;
            for (let wC = 0; wC < filterWidth; ++wC) {
              const xC = yC * strideWidth + wC - left;
              const row = (wR * filterWidth + wC) * inChannels;
              const inside = xR >= 0 && xR < inHeight && xC >= 0 && xC < inWidth;
              const xOffset = ((b * inHeight + xR) * inWidth + xC) * inChannels;
              for (let d1 = 0; d1 < inChannels; ++d1) patchValues[(row + d1) * columns + column] = inside ? xValues[xOffset + d1] : 0;
            }
          }
        }
      }
    }
    // dy [N, Ho, Wo, Cout] is already the matrix [(n, y, x), co]; the product [(i, j, ci), co] is dW's layout.
    const dyMatrix: tf.TensorInfo = { dataId: dy.dataId, shape: [columns, outChannels], dtype: dy.dtype };
    const product = matMulInfo(backend, patches, dyMatrix);
    return { dataId: product.dataId, shape: convInfo.filterShape, dtype: product.dtype };
  });
}

/** The filter gradient of a stride-1 convolution as a convolution. */
function filterGradByConvolution(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, convInfo: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { filterHeight, filterWidth, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, padInfo: pads } = convInfo;
  // Rows/columns past the input that the forward conv read as zeros (for stride 1, its bottom/right padding).
  const padBottom = outHeight + filterHeight - 1 - inHeight - pads.top;
  const padRight = outWidth + filterWidth - 1 - inWidth - pads.left;
  if (strideHeight !== 1 || strideWidth !== 1 || Math.min(pads.top, pads.left, padBottom, padRight) < 0) {
    throw new Error('The convolution form of Conv2DBackpropFilter needs stride 1 and non-negative padding');
  }
  return withScratch(backend, (scratch) => {
    const needsPad = pads.top > 0 || pads.left > 0 || padBottom > 0 || padRight > 0;
    const xPadded = needsPad ? scratch.keep(padInfo(backend, x, [[0, 0], [pads.top, padBottom], [pads.left, padRight], [0, 0]])) : x;
    const xByChannel = scratch.keep(transposeInfo(backend, xPadded, [3, 1, 2, 0])); // [Cin, Hp, Wp, N]
    const dyAsFilter = scratch.keep(transposeInfo(backend, dy, [1, 2, 0, 3])); // [Ho, Wo, N, Cout]
    const grad = scratch.keep(conv2dInfo(backend, xByChannel, dyAsFilter, 'valid')); // [Cin, kh, kw, Cout]
    return transposeInfo(backend, grad, [1, 2, 0, 3]); // [kh, kw, Cin, Cout]
  });
}

/** The filter gradient for any stride: the cpu backend's loop, reordered so the innermost loop runs over contiguous memory. */
function filterGradByLoop(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, convInfo: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = convInfo;
  const top = convInfo.padInfo.top;
  const left = convInfo.padInfo.left;
  // Views on the wasm heap: valid until the next allocation, so read everything before makeOutput.
  const xValues = backend.typedArrayFromHeap(x);
  const dyValues = backend.typedArrayFromHeap(dy);
  // Sums in float64 like the cpu backend, so long sums round the same way.
  const sums = new Float64Array(filterHeight * filterWidth * inChannels * outChannels);
  for (let b = 0; b < batchSize; ++b) {
    for (let yR = 0; yR < outHeight; ++yR) {
      for (let yC = 0; yC < outWidth; ++yC) {
        const dyOffset = ((b * outHeight + yR) * outWidth + yC) * outChannels;
        for (let wR = 0; wR < filterHeight; ++wR) {
          const xR = yR * strideHeight + wR - top;
          if (xR < 0 || xR >= inHeight) continue;
          for (let wC = 0; wC < filterWidth; ++wC) {
            const xC = yC * strideWidth + wC - left;
            if (xC < 0 || xC >= inWidth) continue;
            const xOffset = ((b * inHeight + xR) * inWidth + xC) * inChannels;
            const wOffset = (wR * filterWidth + wC) * inChannels * outChannels;
            for (let d1 = 0; d1 < inChannels; ++d1) {
              const xValue = xValues[xOffset + d1];
              const rowOffset = wOffset + d1 * outChannels;
              for (let d2 = 0; d2 < outChannels; ++d2) sums[rowOffset + d2] += xValue * dyValues[dyOffset + d2];
            }
          }
        }
      }
    }
  }
  return backend.makeOutput(convInfo.filterShape, 'float32', undefined, Float32Array.from(sums));
}

/** Every implementation, by name (exported so tests can check each against the cpu backend). */
export const FILTER_GRAD_METHODS: Record<FilterGradMethod, FilterGradFn> = {
  patches: filterGradByPatches,
  convolution: filterGradByConvolution,
  loop: filterGradByLoop,
};

/** The kernel function registered as `Conv2DBackpropFilter` on wasm. */
export function conv2dBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const backend = wasmBackendOf(args);
  const { x, dy } = inputsOf(args, ['x', 'dy'], tf.Conv2DBackpropFilter);
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const convInfo = backpropConvInfo(x.shape as [number, number, number, number], attrs.filterShape, attrs);
  assertChannelsLast(convInfo, tf.Conv2DBackpropFilter);
  if (x.dtype !== 'float32' || dy.dtype !== 'float32') throw new Error(`Conv2DBackpropFilter on wasm needs float32 tensors, got ${x.dtype} and ${dy.dtype}`);
  return FILTER_GRAD_METHODS[chooseFilterGradMethod(convInfo)](backend, x, dy, convInfo);
}
