/**
 * The model card's two face blocks: `preprocess.face` (the face stage: detector settings, landmark
 * passes, the aligned chip, and every weight file it reads) and `tower.pretrained` (a tower whose
 * weights ship inside an npm package). With both in the card, training, calibration, evaluation,
 * indexing and serving cut and describe faces alike, and a changed weight file or setting changes
 * the model id (and so re-embeds the gallery).
 */
import { z } from 'zod';

const positiveInt = z.number().int().min(1);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');

/** One weight file read from an installed package, as loading checks it. */
export const weightFileSchema = z
  .object({
    package: z.string().min(1),
    version: z.string().min(1),
    /** Path inside the package, e.g. `model/face_recognition_model.bin`. */
    file: z.string().min(1),
    bytes: z.number().int().min(0),
    sha256,
  })
  .loose();

export const faceStageSchema = z
  .object({
    detector: z
      .object({
        name: z.enum(['tiny', 'ssd']),
        minScore: z.number().gt(0).max(1),
        maxFaces: positiveInt,
        inputSizes: z.array(positiveInt).min(1),
        retryInputSize: positiveInt,
        retryBorder: z.number().min(0),
      })
      .loose(),
    /** The 68-point landmark net, run on the detector's box and again on the box of its own points. */
    landmarks: z.object({ net: z.literal('68'), passes: z.literal(2) }).loose(),
    /** dlib's alignment: a `size` x `size` RGB chip with `padding` margin around its mean face. */
    chip: z.object({ size: z.literal(150), padding: z.literal(0.25) }).loose(),
    /** Detector then landmark files, in read order. */
    files: z.array(weightFileSchema).min(1),
  })
  .loose();

export const pretrainedTowerSchema = z
  .object({
    /** What the weights are, e.g. `face-api/face_recognition_model` (dlib's ResNet face descriptor). */
    net: z.literal('face-api/face_recognition_model'),
    /** Output length of the pretrained net (before any trained head). */
    dim: positiveInt,
    files: z.array(weightFileSchema).min(1),
  })
  .loose();

export type WeightFileSpec = z.infer<typeof weightFileSchema>;
export type FaceStageSpec = z.infer<typeof faceStageSchema>;
export type PretrainedTowerSpec = z.infer<typeof pretrainedTowerSchema>;
