/**
 * A face model on disk is a model card alone: the face stage (`preprocess.face`) and the
 * pretrained tower (`tower.pretrained`) name their weight files inside the installed face-api
 * package, with sha256. `saveFaceModel` writes such a card; `loadFacePipeline` loads the stage and
 * the tower a card describes, refusing files whose hash differs from the card's.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { MODEL_CARD_FORMAT, parseModelCard, weightsHashOf, type ModelCard } from '../model/card.js';
import type { FaceStageSpec, PretrainedTowerSpec, WeightFileSpec } from '../model/face-card.js';
import { embeddingRecipeHash, MODEL_CARD_FILE, ModelLoadError } from '../model/io.js';
import { writeFileAtomic } from '../util/atomic.js';
import { CHIP_PADDING, CHIP_SIZE } from './chip.js';
import type { DetectorSettings } from './detect.js';
import type { Box } from './faceapi.js';
import { netWeights } from './nets.js';
import type { PixelData } from './pixels.js';
import { loadFaceStage, type FaceStage } from './stage.js';
import { FACE_DESCRIPTOR_DIM, loadFaceTower, type FaceTower } from './tower.js';
import { describeFaceWeights, type WeightFile } from './weights.js';

/** The detector the face stage uses unless told otherwise (docs/research/2026-12-face-stage.md). */
export const DEFAULT_DETECTOR: DetectorSettings = { name: 'tiny', minScore: 0.5, maxFaces: 100, inputSizes: [512, 224], retryInputSize: 224, retryBorder: 1 };

/** Dlib's own cut-off between "same" and "different" for its descriptors (Euclidean distance). */
export const DLIB_THRESHOLD = 0.6;

export interface FaceModelDraft {
  /** Model name; the id becomes `<name>-<12 hex of the recipe hash>`. */
  name: string;
  /** Detector settings; default `DEFAULT_DETECTOR`. */
  detector?: DetectorSettings;
  thresholds: ModelCard['thresholds'];
  validation: ModelCard['validation'];
  training: ModelCard['training'];
  /** Default `{ name: 'none' }`: the pretrained tower as published. */
  loss?: ModelCard['loss'];
  /** ISO 8601; default now. */
  createdAt?: string;
}

const spec = (f: WeightFile): WeightFileSpec => ({ package: f.package, version: f.version, file: f.file, bytes: f.bytes, sha256: f.sha256 });

/**
 * The card's face blocks for `detector`, with every weight file hashed from the installed package.
 *
 * @example
 * const { face, pretrained } = await describeFaceRecipe(DEFAULT_DETECTOR);
 */
export async function describeFaceRecipe(detector: DetectorSettings = DEFAULT_DETECTOR): Promise<{ face: FaceStageSpec; pretrained: PretrainedTowerSpec; parameters: number }> {
  const [found, landmarks, recognition] = await Promise.all([
    describeFaceWeights(netWeights(detector.name)),
    describeFaceWeights(netWeights('landmarks68')),
    describeFaceWeights(netWeights('recognition')),
  ]);
  return {
    face: {
      detector: { ...detector, inputSizes: [...detector.inputSizes] },
      landmarks: { net: '68', passes: 2 },
      chip: { size: CHIP_SIZE, padding: CHIP_PADDING },
      files: [...found.files, ...landmarks.files].map(spec),
    },
    pretrained: { net: 'face-api/face_recognition_model', dim: FACE_DESCRIPTOR_DIM, files: recognition.files.map(spec) },
    parameters: recognition.parameters,
  };
}

/**
 * Writes a face model's card into `outDir` (no weights file: the weights are the installed
 * package's, pinned by sha256). Descriptors are compared by Euclidean distance, unnormalised, as
 * dlib does.
 *
 * @returns the card as written
 * @example
 * const card = await saveFaceModel('models/faces', { name: 'faces', thresholds, validation, training });
 * card.preprocess.face.detector.name; // 'tiny'
 */
export async function saveFaceModel(outDir: string, draft: FaceModelDraft): Promise<ModelCard> {
  if (!/^[\w.-]+$/.test(draft.name)) throw new Error(`Model name "${draft.name}" must be letters, digits, ".", "_" or "-"`);
  const { face, pretrained, parameters } = await describeFaceRecipe(draft.detector ?? DEFAULT_DETECTOR);
  const preprocess = { width: CHIP_SIZE, height: CHIP_SIZE, channels: 3 as const, fit: 'fill' as const, invert: false, mean: 0, std: 1, face };
  const tower = { arch: 'pretrained' as const, embeddingSize: pretrained.dim, l2Normalize: false, pretrained };
  const metric = 'l2' as const;
  const recipeHash = embeddingRecipeHash(weightsHashOf({ tower, preprocess }), { preprocess, tower, metric });
  const card = parseModelCard({
    format: MODEL_CARD_FORMAT,
    modelId: `${draft.name}-${recipeHash.slice(0, 12)}`,
    createdAt: draft.createdAt ?? new Date().toISOString(),
    preprocess,
    tower,
    inputShape: [CHIP_SIZE, CHIP_SIZE, 3],
    embeddingSize: pretrained.dim,
    metric,
    loss: draft.loss ?? { name: 'none' },
    thresholds: draft.thresholds,
    validation: draft.validation,
    training: draft.training,
    parameters,
  });
  await mkdir(outDir, { recursive: true });
  await writeFileAtomic(join(outDir, MODEL_CARD_FILE), `${JSON.stringify(card, null, 2)}\n`);
  return card;
}

/** One face found and described: where, how sure, its vector, and (when asked) its aligned chip as 8-bit RGB. */
export interface DescribedFace {
  box: Box;
  score: number;
  vector: Float32Array;
  chip?: Uint8Array;
}

export interface FacePipeline {
  readonly stage: FaceStage;
  readonly tower: FaceTower;
  /**
   * Every face of each image, largest first, with its descriptor. Chips of all images are embedded
   * together, `batch` at a time.
   */
  describe(images: readonly { pixels: PixelData; width: number; height: number }[], options?: { chips?: boolean }): Promise<DescribedFace[][]>;
  dispose(): void;
}

function checkFiles(what: string, loaded: readonly WeightFile[], expected: readonly WeightFileSpec[], modelDir: string): void {
  const key = (f: { package: string; version: string; file: string; sha256: string }): string => `${f.package}@${f.version}/${f.file} ${f.sha256}`;
  const got = loaded.map(key).join('\n');
  if (got !== expected.map(key).join('\n')) {
    const first = expected.find((f, i) => key(f) !== (loaded[i] ? key(loaded[i]) : ''));
    throw new ModelLoadError('MODEL_CORRUPT', modelDir, `the installed ${what} weights differ from the model card's${first ? ` (${first.package}@${first.version}/${first.file})` : ''}: reinstall the package version the card names, or save the model again`);
  }
}

/** Chips embedded per forward pass: batch 8 measured ~0.8x the time per face of batch 1. */
const EMBED_BATCH = 8;

/**
 * Loads the face stage and tower a face card describes (call `initBackend` first), checking every
 * weight file against the card.
 *
 * @throws ModelLoadError `CARD_INVALID` (not a face card), `MODEL_CORRUPT` (weights differ from the card)
 * @example
 * const pipeline = await loadFacePipeline(card, 'models/faces');
 * const [faces] = await pipeline.describe([{ pixels: rgb, width, height }]); // faces[0].vector: 128 floats
 */
export async function loadFacePipeline(card: ModelCard, modelDir = '(card)'): Promise<FacePipeline> {
  const face = card.preprocess.face;
  const pretrained = card.tower.pretrained;
  if (!face || !pretrained) throw new ModelLoadError('CARD_INVALID', modelDir, 'not a face model: the card has no preprocess.face or tower.pretrained');
  const { name, ...detector } = face.detector;
  const stage = await loadFaceStage({ detector: name, ...detector });
  let tower: FaceTower;
  try {
    checkFiles('face stage', stage.files, face.files, modelDir);
    tower = await loadFaceTower();
  } catch (error) {
    stage.dispose();
    throw error;
  }
  try {
    checkFiles('face tower', tower.files, pretrained.files, modelDir);
  } catch (error) {
    stage.dispose();
    tower.dispose();
    throw error;
  }
  const towerRef = tower;
  return {
    stage,
    tower: towerRef,
    async describe(images, options = {}) {
      const found = [];
      for (const image of images) found.push(await stage.detect(image.pixels, image.width, image.height));
      const crops = found.flat().map((f) => f.crop);
      const vectors: Float32Array[] = [];
      for (let at = 0; at < crops.length; at += EMBED_BATCH) vectors.push(...(await towerRef.embed(crops.slice(at, at + EMBED_BATCH))));
      let next = 0;
      return found.map((faces) =>
        faces.map((f) => ({
          box: f.box,
          score: f.score,
          vector: vectors[next++],
          ...(options.chips ? { chip: Uint8Array.from(f.crop, (v) => Math.max(0, Math.min(255, Math.round(v)))) } : {}),
        })),
      );
    },
    dispose() {
      stage.dispose();
      towerRef.dispose();
    },
  };
}
