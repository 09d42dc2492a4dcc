/**
 * The tower: the one network both halves of the twin share. It maps NHWC images to
 * (un-normalised) embeddings; L2 normalisation and distances happen outside the model
 * (src/model/embed.ts, src/model/losses.ts) so the saved model has only standard layers.
 */
import * as tf from '@tensorflow/tfjs';
import type { PreprocessConfig, TowerArch, TowerConfig } from './config.js';

/** One layer of a tower, described independently of tfjs so sizes can be checked before building. */
export type LayerSpec =
  | { kind: 'conv'; filters: number; kernel: number; padding: 'same' | 'valid'; relu: boolean }
  | { kind: 'maxpool'; size: number }
  | { kind: 'flatten' }
  | { kind: 'dense'; units: number; relu: boolean };

/**
 * The layer list of each architecture. `filters` (f) scales the conv widths:
 * - `conv4`: 4 x [conv3x3(f) 'same' - ReLU - maxpool2] - flatten - dense(embedding).
 *   28x28 → 14 → 7 → 3 → 1 (1x1xf before the projection); 105x105 → 52 → 26 → 13 → 6.
 * - `writeup`: conv3x3(f) - pool - conv3x3(2f) - pool - dense(4f) ReLU - dense(embedding), 'valid' convs
 *   as in the Keras write-up; f = 32 reproduces its conv32 / conv64 / dense128.
 * - `koch`: Koch et al. 2015: conv10x10(f) - pool - conv7x7(2f) - pool - conv4x4(2f) - pool - conv4x4(4f)
 *   - dense(embedding); f = 64 reproduces the paper's 64/128/128/256. Koch's last layer is a 4096-unit
 *   sigmoid; here it is a linear dense(embeddingSize) because the embedding feeds a distance, not an L1 head.
 *   Needs inputs of about 60x60 or more (105x105 in the paper).
 */
export function towerLayers(arch: TowerArch, filters: number, embeddingSize: number): LayerSpec[] {
  const conv = (f: number, kernel: number, padding: 'same' | 'valid'): LayerSpec => ({ kind: 'conv', filters: f, kernel, padding, relu: true });
  const pool: LayerSpec = { kind: 'maxpool', size: 2 };
  const projection: LayerSpec = { kind: 'dense', units: embeddingSize, relu: false };
  switch (arch) {
    case 'conv4':
      return [...Array.from({ length: 4 }, () => [conv(filters, 3, 'same'), pool]).flat(), { kind: 'flatten' }, projection];
    case 'writeup':
      return [conv(filters, 3, 'valid'), pool, conv(2 * filters, 3, 'valid'), pool, { kind: 'flatten' }, { kind: 'dense', units: 4 * filters, relu: true }, projection];
    case 'koch':
      return [
        conv(filters, 10, 'valid'), pool,
        conv(2 * filters, 7, 'valid'), pool,
        conv(2 * filters, 4, 'valid'), pool,
        conv(4 * filters, 4, 'valid'),
        { kind: 'flatten' }, projection,
      ];
    default: {
      const unknown: never = arch;
      throw new Error(`Unknown tower architecture "${String(unknown)}"`);
    }
  }
}

/** The tower's input shape [height, width, channels] for a preprocessing config. */
export function inputShapeOf(pre: PreprocessConfig): [number, number, number] {
  return [pre.height, pre.width, pre.channels];
}

/**
 * Spatial size after each layer, throwing a readable error when an input is too small for the
 * architecture (tfjs would otherwise fail deep inside with a negative dimension).
 */
export function checkLayerSizes(layers: LayerSpec[], inputShape: [number, number, number]): void {
  let [h, w] = inputShape;
  for (const [i, layer] of layers.entries()) {
    if (layer.kind === 'conv' && layer.padding === 'valid') {
      h -= layer.kernel - 1;
      w -= layer.kernel - 1;
    } else if (layer.kind === 'maxpool') {
      h = Math.floor(h / layer.size);
      w = Math.floor(w / layer.size);
    }
    if (h < 1 || w < 1) {
      throw new Error(`Input ${inputShape[0]}x${inputShape[1]} is too small for this tower: layer ${i + 1} (${layer.kind}) would have no pixels left`);
    }
  }
}

/**
 * Builds the tower as a named `tf.Sequential` taking [h, w, c] images (NHWC batches).
 * With a `seed`, every layer's initialiser is seeded (`seed + layer index`), so two builds
 * with the same seed start from identical weights. No BatchNorm: it made training 2.5x slower on wasm.
 *
 * @example
 * const tower = buildTower({ arch: 'conv4', embeddingSize: 64, filters: 64, l2Normalize: true }, DEFAULT_PREPROCESS, 42);
 * tower.predict(tf.zeros([1, 28, 28, 1])); // shape [1, 64]
 */
export function buildTower(tower: TowerConfig, pre: PreprocessConfig, seed?: number): tf.Sequential {
  for (const [key, value] of [['embeddingSize', tower.embeddingSize], ['filters', tower.filters], ['width', pre.width], ['height', pre.height]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`${key} must be a positive integer, got ${value}`);
  }
  const inputShape = inputShapeOf(pre);
  const specs = towerLayers(tower.arch, tower.filters, tower.embeddingSize);
  checkLayerSizes(specs, inputShape);

  // Distinct seeds per layer: equal seeds would give equally-shaped layers identical weights.
  const seedFor = (i: number): number | undefined => (seed === undefined ? undefined : seed + i);
  let convCount = 0;
  let poolCount = 0;
  let denseCount = 0;
  const layers = specs.map((spec, i): tf.layers.Layer => {
    const first = i === 0 ? { inputShape } : {};
    switch (spec.kind) {
      case 'conv':
        convCount += 1;
        return tf.layers.conv2d({
          ...first,
          name: `conv${convCount}`,
          filters: spec.filters,
          kernelSize: spec.kernel,
          padding: spec.padding,
          activation: spec.relu ? 'relu' : 'linear',
          kernelInitializer: tf.initializers.heNormal({ seed: seedFor(i) }),
          biasInitializer: 'zeros',
        });
      case 'maxpool':
        poolCount += 1;
        return tf.layers.maxPooling2d({ ...first, name: `pool${poolCount}`, poolSize: spec.size, strides: spec.size, padding: 'valid' });
      case 'flatten':
        return tf.layers.flatten({ ...first, name: 'flatten' });
      case 'dense': {
        denseCount += 1;
        const isProjection = i === specs.length - 1;
        return tf.layers.dense({
          ...first,
          name: isProjection ? 'embedding' : `dense${denseCount}`,
          units: spec.units,
          activation: spec.relu ? 'relu' : 'linear',
          // He for ReLU layers, Glorot for the linear projection.
          kernelInitializer: spec.relu ? tf.initializers.heNormal({ seed: seedFor(i) }) : tf.initializers.glorotUniform({ seed: seedFor(i) }),
          biasInitializer: 'zeros',
        });
      }
    }
  });
  return tf.sequential({ name: `tower_${tower.arch}`, layers });
}

export interface LayerSummary {
  name: string;
  className: string;
  /** Output shape without the batch dimension. */
  outputShape: number[];
  parameters: number;
  /** 2 x multiply-adds per image (conv and dense layers only; pooling and activations are ignored). */
  flops: number;
}

export interface TowerSummary {
  parameters: number;
  /** Estimated floating-point operations to embed one image (2 x multiply-adds of conv and dense layers). */
  flopsPerImage: number;
  layers: LayerSummary[];
}

function singleShape(shape: tf.Shape | tf.Shape[]): number[] {
  const s = (Array.isArray(shape[0]) ? shape[0] : shape) as tf.Shape;
  return s.slice(1).map((d) => d ?? 0);
}

const product = (xs: number[]): number => xs.reduce((a, b) => a * b, 1);

/**
 * Parameter count and a FLOPs-per-image estimate of a tower (used by the embedding benchmark).
 * Conv: 2 x Ho x Wo x Cout x kh x kw x Cin; dense: 2 x in x out.
 *
 * @example
 * towerSummary(buildTower(DEFAULT_TOWER, DEFAULT_PREPROCESS)); // { parameters: 115584, flopsPerImage: ..., layers: [...] }
 */
export function towerSummary(model: tf.LayersModel): TowerSummary {
  const layers = model.layers.map((layer): LayerSummary => {
    const outputShape = singleShape(layer.outputShape);
    const className = layer.getClassName();
    let flops = 0;
    if (className === 'Conv2D') {
      const [kh, kw, cin] = layer.weights[0].shape as number[]; // kernel [kh, kw, cin, cout]
      flops = 2 * product(outputShape) * kh * kw * cin;
    } else if (className === 'Dense') {
      const [units, inputs] = [product(outputShape), layer.weights[0].shape[0] as number]; // kernel [in, out]
      flops = 2 * inputs * units;
    }
    return { name: layer.name, className, outputShape, parameters: layer.countParams(), flops };
  });
  return {
    parameters: layers.reduce((sum, l) => sum + l.parameters, 0),
    flopsPerImage: layers.reduce((sum, l) => sum + l.flops, 0),
    layers,
  };
}

/**
 * The tfjs variables behind a model's trainable weights, for `optimizer.minimize(f, true, vars)`
 * or `tf.variableGrads(f, vars)` (without a list, tfjs would update every variable in the process).
 *
 * @example
 * optimizer.minimize(() => lossOf(tower), false, trainableVariables(tower));
 */
export function trainableVariables(model: tf.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((weight) => {
    const variable = weight.read();
    if (!(variable instanceof tf.Variable)) throw new Error(`Weight ${weight.name} is not backed by a tf.Variable`);
    return variable;
  });
}
