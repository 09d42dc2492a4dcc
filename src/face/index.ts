/**
 * Face mode: find faces in raw pixels, align each to a 150x150 chip the way dlib does, and describe
 * it with a pretrained 128-d face descriptor. Every net comes from the installed
 * `@vladmandic/face-api` package's `model/` folder (nothing is downloaded); `files` on the stage
 * and the tower list what was read, with sha256, for the model card. Runs on whichever tfjs backend
 * `initBackend` started (wasm, cpu or tfjs-node), one thread per tfjs instance.
 *
 * @example
 * import sharp from 'sharp';
 * import { initBackend } from '../model/backend.js';
 * import { loadFaceStage, loadFaceTower } from './index.js';
 *
 * await initBackend();
 * const stage = await loadFaceStage();          // tiny detector + 68-point landmarks
 * const tower = await loadFaceTower();          // 128-d recognition net
 * const { data, info } = await sharp('group.jpg').raw().toBuffer({ resolveWithObject: true });
 * const faces = await stage.detect(data, info.width, info.height); // largest first; [] if none
 * const descriptors = await tower.embed(faces.map((f) => f.crop));
 * // Same person when the Euclidean distance between two descriptors is small (dlib suggests < 0.6).
 * stage.dispose();
 * tower.dispose();
 */
export { CHIP_SIZE } from './chip.js';
export type { DetectorName, DetectorSettings } from './detect.js';
export type { Box, Point } from './faceapi.js';
export type { PixelData } from './pixels.js';
export { loadFaceStage, type DetectedFace, type FaceStage, type FaceStageOptions } from './stage.js';
export { FACE_DESCRIPTOR_DIM, loadFaceTower, type FaceTower } from './tower.js';
export type { WeightFile } from './weights.js';
