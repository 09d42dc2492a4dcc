/**
 * 68 face landmarks (iBUG order: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67) with
 * face-api's landmark net, run on each face's box as face-api does: the box cut from the image
 * (clipped at its borders), padded to a square and shrunk to 112x112 by the net.
 */
import * as tf from '@tensorflow/tfjs';
import type { Box, LandmarkNet, Point } from './faceapi.js';
import { loadNet } from './nets.js';
import { cropRgb, downscale, type RgbImage } from './pixels.js';
import type { WeightFile } from './weights.js';

/** '68' is face-api's default landmark net (0.36 MB); '68-tiny' its smaller one (0.08 MB). */
export type LandmarkModel = '68' | '68-tiny';

export interface LandmarkFinder {
  readonly files: WeightFile[];
  /** The 68 landmarks of each box, in the image's pixels. */
  locate(image: RgbImage, boxes: readonly Box[]): Promise<Point[][]>;
  dispose(): void;
}

// The net sees 112x112: crops more than twice that are shrunk first (area mean), to save memory and aliasing.
const MAX_CROP_SIDE = 224;

/**
 * The landmarks' bounding box grown by 20% (face-api's default `align()` box). Running the landmark
 * net again on this box instead of the detector's makes the landmarks depend less on which detector
 * drew the box (docs/research/2026-12-face-stage.md).
 *
 * @example
 * const refined = await finder.locate(rgb, first.map(landmarkBox));
 */
export function landmarkBox(points: readonly Point[]): Box {
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  const width = Math.max(...xs) - x;
  const height = Math.max(...ys) - y;
  return { x: x - 0.1 * width, y: y - 0.1 * height, width: 1.2 * width, height: 1.2 * height };
}

/**
 * @example
 * const finder = await loadLandmarkFinder('68');
 * const [points] = await finder.locate(rgb, [faceBox]); // 68 { x, y } in rgb's pixels
 */
export async function loadLandmarkFinder(model: LandmarkModel = '68'): Promise<LandmarkFinder> {
  const { net, files } = model === '68' ? await loadNet('landmarks68') : await loadNet('landmarks68Tiny');
  return {
    files,
    locate: (image, boxes) => locateLandmarks(net, image, boxes),
    dispose: () => net.dispose(),
  };
}

async function locateLandmarks(net: LandmarkNet, image: RgbImage, boxes: readonly Box[]): Promise<Point[][]> {
  if (boxes.length === 0) return [];
  const crops = boxes.map((box) => {
    const crop = cropRgb(image, box);
    const factor = Math.max(1, Math.floor(Math.max(crop.image.width, crop.image.height) / MAX_CROP_SIDE));
    return { ...crop, factor, image: downscale(crop.image, factor) };
  });
  const inputs = crops.map((c) => tf.tensor3d(c.image.data, [c.image.height, c.image.width, 3], 'int32'));
  try {
    const found = await net.detectLandmarks(inputs);
    return found.map((landmarks, i) => {
      const { x, y, factor, image: crop } = crops[i];
      return landmarks.relativePositions.map((p) => ({ x: x + p.x * crop.width * factor, y: y + p.y * crop.height * factor }));
    });
  } finally {
    tf.dispose(inputs);
  }
}
