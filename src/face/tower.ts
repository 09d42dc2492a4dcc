/**
 * The pretrained face tower: face-api's recognition net (dlib's ResNet-34-style face descriptor,
 * 128-d) on aligned 150x150 RGB chips. Batched, and every tensor it makes is freed.
 */
import * as tf from '@tensorflow/tfjs';
import { CHIP_SIZE } from './chip.js';
import { loadNet } from './nets.js';
import type { WeightFile } from './weights.js';

/** Length of a face descriptor. */
export const FACE_DESCRIPTOR_DIM = 128;
const CHIP_FLOATS = CHIP_SIZE * CHIP_SIZE * 3;

export interface FaceTower {
  readonly dim: number;
  readonly files: WeightFile[];
  /**
   * One 128-d descriptor per chip (Float32Array of 150·150·3 RGB values in 0-255, HWC), in order.
   * Descriptors are the net's raw output (not normalised); compare them by Euclidean distance.
   */
  embed(chips: readonly Float32Array[]): Promise<Float32Array[]>;
  dispose(): void;
}

/**
 * @example
 * const tower = await loadFaceTower();
 * const [a, b] = await tower.embed([faceA.crop, faceB.crop]);
 * // dlib's rule of thumb: the same person when the Euclidean distance is below 0.6
 */
export async function loadFaceTower(): Promise<FaceTower> {
  const { net, files } = await loadNet('recognition');
  return {
    dim: FACE_DESCRIPTOR_DIM,
    files,
    async embed(chips) {
      if (chips.length === 0) return [];
      chips.forEach((chip, i) => {
        if (chip.length !== CHIP_FLOATS) throw new RangeError(`chip ${i} has ${chip.length} values, expected ${CHIP_SIZE}x${CHIP_SIZE}x3 = ${CHIP_FLOATS}`);
      });
      const inputs = chips.map((chip) => tf.tensor3d(chip, [CHIP_SIZE, CHIP_SIZE, 3], 'float32'));
      let output: tf.Tensor2D | undefined;
      try {
        output = await net.forward(inputs);
        const flat = await output.data<'float32'>();
        return chips.map((_, i) => flat.slice(i * FACE_DESCRIPTOR_DIM, (i + 1) * FACE_DESCRIPTOR_DIM));
      } finally {
        tf.dispose(inputs);
        output?.dispose();
      }
    },
    dispose: () => net.dispose(),
  };
}
