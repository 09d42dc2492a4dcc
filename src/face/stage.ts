/**
 * The face stage of preprocessing: detect → landmarks → align → crop, from raw pixels to one
 * aligned 150x150 RGB chip per face, ready for the face tower. Choices, by measurement
 * (docs/research/2026-12-face-stage.md): the tiny detector, the 68-point landmark net run twice,
 * dlib's alignment.
 */
import type { Box, Point } from './faceapi.js';
import { CHIP_SIZE, chipTransform, extractChip } from './chip.js';
import { findFaces, loadDetector, type DetectorName, type DetectorSettings } from './detect.js';
import { landmarkBox, loadLandmarkFinder } from './landmarks.js';
import { toRgb, type PixelData } from './pixels.js';
import type { WeightFile } from './weights.js';

export interface FaceStageOptions {
  /** 'tiny' (default: as many faces found as SSD, no false ones, a fraction of its time) or 'ssd'. */
  detector?: DetectorName;
  /** Lowest detection score kept. Default 0.5. */
  minScore?: number;
  /** Most faces returned per image. Default 100. */
  maxFaces?: number;
  /** Detector input sizes and retry, as `DetectorOptions` (defaults: the measured ones). */
  inputSizes?: number[];
  retryInputSize?: number;
  retryBorder?: number;
}

export interface DetectedFace {
  /** The detector's box in the input image's pixels, clipped to the image. */
  box: Box;
  /** Detector score in (0, 1]. */
  score: number;
  /** 68 landmarks (iBUG order) in the input image's pixels. */
  landmarks: Point[];
  /** The aligned chip: 150·150·3 RGB values in 0-255, HWC; what `FaceTower.embed` takes. */
  crop: Float32Array;
}

export interface FaceStage {
  /** The detector in use and its settings, for the model card. */
  readonly detector: DetectorSettings;
  /** Every weight file the stage read (detector, then landmarks), for the model card. */
  readonly files: WeightFile[];
  /**
   * The faces in an image, largest box first; [] when there is none. `pixels` are interleaved
   * 8-bit grey, grey + alpha, RGB or RGBA (the channel count is their length over width x height).
   */
  detect(pixels: PixelData, width: number, height: number): Promise<DetectedFace[]>;
  dispose(): void;
}

/**
 * Loads the detector and landmark nets from the installed face-api package (nothing is
 * downloaded). Call `initBackend` first: the nets run on whichever tfjs backend is active.
 *
 * @example
 * await initBackend();
 * const stage = await loadFaceStage();
 * const { data, info } = await sharp('photo.jpg').raw().toBuffer({ resolveWithObject: true });
 * const faces = await stage.detect(data, info.width, info.height);
 * const descriptors = await tower.embed(faces.map((f) => f.crop));
 */
export async function loadFaceStage(options: FaceStageOptions = {}): Promise<FaceStage> {
  const { detector: name, ...rest } = options;
  const detector = await loadDetector({ name, ...rest });
  let landmarks;
  try {
    // The 68-point net: its tiny sibling tripled the EER (docs/research/2026-12-face-stage.md).
    landmarks = await loadLandmarkFinder('68');
  } catch (error) {
    detector.dispose();
    throw error;
  }
  const finder = landmarks;
  return {
    detector: detector.settings,
    files: [...detector.files, ...finder.files],
    async detect(pixels, width, height) {
      const image = toRgb(pixels, width, height);
      const found = await findFaces(detector, image);
      // Landmarks twice: on the detector's box, then on the box of those landmarks (a lower EER, see the research note).
      const first = await finder.locate(image, found.map((f) => f.box));
      const points = await finder.locate(image, first.map(landmarkBox));
      return found.map((f, i) => ({
        box: f.box,
        score: f.score,
        landmarks: points[i],
        crop: extractChip(image, chipTransform(points[i]), CHIP_SIZE),
      }));
    },
    dispose() {
      detector.dispose();
      finder.dispose();
    },
  };
}
