/**
 * The twin (Siamese) network: one tower instance applied to two inputs, so both branches share
 * every variable. Only the tower is ever saved (src/model/io.ts); the twin is rebuilt around it.
 */
import * as tf from '@tensorflow/tfjs';
import { l2NormalizeRows } from './embed.js';
import { pairDistance } from './losses.js';

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

/** Row-wise L2 normalisation as a weightless layer (so it can sit inside a functional model). */
export class L2NormalizeLayer extends tf.layers.Layer {
  static readonly className = 'TwinsearchL2Normalize';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => l2NormalizeRows(single(inputs) as tf.Tensor2D));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }
}

/**
 * Euclidean distance between two embedding batches, [n, d] x [n, d] → [n, 1]. A registered layer
 * class rather than a Lambda (tfjs cannot serialise a Lambda), but it is not needed to save a model:
 * only the tower is saved and distances are computed outside it.
 */
export class EuclideanDistanceLayer extends tf.layers.Layer {
  static readonly className = 'TwinsearchEuclideanDistance';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error('EuclideanDistanceLayer expects two inputs');
    const [a, b] = inputs;
    return tf.tidy(() => tf.expandDims(pairDistance(a as tf.Tensor2D, b as tf.Tensor2D), 1));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const first = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [first[0], 1];
  }
}

tf.serialization.registerClass(L2NormalizeLayer);
tf.serialization.registerClass(EuclideanDistanceLayer);

export interface TwinOptions {
  /** L2-normalise both embeddings (one shared weightless layer). Default false. */
  l2Normalize?: boolean;
  /** Add a third output: the Euclidean distance between the two embeddings, [n, 1]. Default false. */
  distance?: boolean;
}

/**
 * Builds the twin: a functional model with inputs `image_a` and `image_b` that runs the *same*
 * tower (shared variables) on both and outputs `[embeddingA, embeddingB]` (plus `[distance]` with
 * `distance: true`). Training the twin trains the tower.
 *
 * @example
 * const twin = buildTwin(tower, { distance: true });
 * const [ea, eb, d] = twin.predict([xa, xb]) as tf.Tensor[];
 */
export function buildTwin(tower: tf.LayersModel, options: TwinOptions = {}): tf.LayersModel {
  const shape = tower.inputs[0].shape.slice(1);
  if (shape.some((d) => d === null)) throw new Error(`The tower needs a fixed input shape, got ${JSON.stringify(tower.inputs[0].shape)}`);
  const imageShape = shape as number[];
  const a = tf.input({ shape: imageShape, name: 'image_a' });
  const b = tf.input({ shape: imageShape, name: 'image_b' });
  let ea = tower.apply(a) as tf.SymbolicTensor;
  let eb = tower.apply(b) as tf.SymbolicTensor;
  if (options.l2Normalize) {
    const normalize = new L2NormalizeLayer({ name: 'l2_normalize' });
    ea = normalize.apply(ea) as tf.SymbolicTensor;
    eb = normalize.apply(eb) as tf.SymbolicTensor;
  }
  const outputs = [ea, eb];
  if (options.distance) outputs.push(new EuclideanDistanceLayer({ name: 'distance' }).apply([ea, eb]) as tf.SymbolicTensor);
  return tf.model({ name: 'twin', inputs: [a, b], outputs });
}
