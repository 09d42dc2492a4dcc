/**
 * Shared plumbing for the project's wasm kernels: calling the wasm backend's own kernels
 * from inside a kernel, and disposing the intermediate results they leave on the wasm heap.
 *
 * Kernels called this way bypass the engine, so nothing tracks their outputs: every
 * intermediate `TensorInfo` must be released with `backend.disposeData`.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export const WASM = 'wasm';

/** What the engine passes to a kernel function. */
export type KernelArgs = Parameters<tf.KernelFunc>[0];

/** A kernel function that returns a single tensor (all kernels in this folder). */
export type SingleOutputKernel = (args: KernelArgs) => tf.TensorInfo;

/** The named input tensors of a kernel call; throws if one is missing. */
export function inputsOf<K extends string>(args: KernelArgs, names: readonly K[], kernelName: string): Record<K, tf.TensorInfo> {
  const found = {} as Record<K, tf.TensorInfo>;
  for (const name of names) {
    const info = args.inputs[name];
    if (info === undefined) throw new Error(`Kernel '${kernelName}' was called without its input '${name}'`);
    found[name] = info;
  }
  return found;
}

/** Views the untyped backend the engine hands to kernels as the wasm backend. */
export function wasmBackendOf(args: KernelArgs): BackendWasm {
  return args.backend as BackendWasm;
}

/** The registered wasm kernel `name`, or a clear error when the wasm backend was not imported. */
export function wasmKernelConfig(name: string): tf.KernelConfig {
  const config = tf.getKernel(name, WASM);
  if (config === undefined) {
    throw new Error(`The wasm kernel '${name}' is not registered: import '@tensorflow/tfjs-backend-wasm' before using the project's wasm kernels`);
  }
  return config;
}

function singleOutput(result: tf.TensorInfo | tf.TensorInfo[], name: string): tf.TensorInfo {
  if (!Array.isArray(result)) return result;
  if (result.length !== 1) throw new Error(`Expected one output from kernel '${name}', got ${result.length}`);
  return result[0];
}

/** Wraps a kernel function so callers get one `TensorInfo`. */
export function asSingleOutput(kernelFunc: tf.KernelFunc, name: string): SingleOutputKernel {
  return (args) => singleOutput(kernelFunc(args), name);
}

/** Runs the currently registered wasm kernel `name` directly (outside the engine). */
export function runWasmKernel(backend: BackendWasm, name: string, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap = {}): tf.TensorInfo {
  return singleOutput(wasmKernelConfig(name).kernelFunc({ inputs, backend, attrs }), name);
}

/** Tracks intermediate results of one kernel call and releases them all at the end. */
export class Scratch {
  private readonly infos: tf.TensorInfo[] = [];

  constructor(private readonly backend: BackendWasm) {}

  /** Remembers `info` for disposal and returns it. */
  keep(info: tf.TensorInfo): tf.TensorInfo {
    this.infos.push(info);
    return info;
  }

  disposeAll(): void {
    for (const info of this.infos.splice(0)) this.backend.disposeData(info.dataId);
  }
}

/** Runs `body` with a fresh scratch list, disposing everything kept in it even when `body` throws. */
export function withScratch<T>(backend: BackendWasm, body: (scratch: Scratch) => T): T {
  const scratch = new Scratch(backend);
  try {
    return body(scratch);
  } finally {
    scratch.disposeAll();
  }
}

/** `x` with its axes permuted (wasm `Transpose`). The caller owns the result. */
export function transposeInfo(backend: BackendWasm, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return runWasmKernel(backend, tf.Transpose, { x }, { perm });
}

/** `x` with its two innermost axes swapped (a batch of matrices transposed). */
export function transposeInnerTwo(backend: BackendWasm, x: tf.TensorInfo): tf.TensorInfo {
  const rank = x.shape.length;
  const perm = [...Array(rank).keys()];
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return transposeInfo(backend, x, perm);
}

/** `x` zero-padded per axis (`[before, after]` pairs; wasm `PadV2`). The caller owns the result. */
export function padInfo(backend: BackendWasm, x: tf.TensorInfo, paddings: [number, number][]): tf.TensorInfo {
  return runWasmKernel(backend, tf.PadV2, { x }, { paddings, constantValue: 0 });
}

/** `x` reversed along `dims` (wasm `Reverse`). The caller owns the result. */
export function reverseInfo(backend: BackendWasm, x: tf.TensorInfo, dims: number[]): tf.TensorInfo {
  return runWasmKernel(backend, tf.Reverse, { x }, { dims });
}

/** A stride-1, undilated NHWC convolution with explicit padding, run by the wasm backend's XNNPACK `Conv2D`. */
export function conv2dInfo(backend: BackendWasm, x: tf.TensorInfo, filter: tf.TensorInfo, pad: 'valid' | tf.backend_util.ExplicitPadding): tf.TensorInfo {
  return runWasmKernel(backend, tf.Conv2D, { x, filter }, { strides: 1, pad, dataFormat: 'NHWC', dilations: 1 });
}

/** The matrix product a x b of float32 matrices (wasm `BatchMatMul`, XNNPACK). The caller owns the result. */
export function matMulInfo(backend: BackendWasm, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  return runWasmKernel(backend, tf.BatchMatMul, { a, b }, { transposeA: false, transposeB: false });
}

/** Throws the error every kernel here gives for NCHW data: only channels-last is implemented. */
export function assertChannelsLast(convInfo: tf.backend_util.Conv2DInfo, kernelName: string): void {
  if (convInfo.dataFormat !== 'channelsLast') {
    throw new Error(`The project's wasm ${kernelName} kernel supports NHWC (channelsLast) data only, got ${convInfo.dataFormat}; use dataFormat 'NHWC'`);
  }
}

/**
 * The convolution geometry of a conv2d gradient kernel (both backprop kernels share it). Dilation is
 * always 1: tfjs does not define the gradient of a dilated conv2d.
 */
export function backpropConvInfo(
  inputShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: Pick<tf.Conv2DBackpropFilterAttrs, 'strides' | 'pad' | 'dataFormat' | 'dimRoundingMode'>,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    tf.backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
}
