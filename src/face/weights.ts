/**
 * Weights come only from the installed face-api package's `model/` folder, read by path: nothing
 * is downloaded. Each file read is hashed (sha256) from the very bytes that are decoded, so a
 * model card can record exactly what ran: package, version, file, sha256.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { faceApiPackageDir, faceApiVersion } from './faceapi.js';

/** The weight sets of face-api that the face stage can load (file stems in `model/`). */
export type FaceModelName =
  | 'ssd_mobilenetv1_model'
  | 'tiny_face_detector_model'
  | 'face_landmark_68_model'
  | 'face_landmark_68_tiny_model'
  | 'face_recognition_model';

/** One file read to build a net, as a model card records it. */
export interface WeightFile {
  package: string;
  version: string;
  /** Path inside the package, e.g. `model/face_recognition_model.bin`. */
  file: string;
  bytes: number;
  sha256: string;
}

export interface LoadedWeights {
  /** Decoded tensors by name (the caller owns them). */
  weightMap: tf.NamedTensorMap;
  /** The manifest first, then its weight files, in read order. */
  files: WeightFile[];
}

interface ManifestGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

function record(file: string, bytes: Uint8Array, version: string): WeightFile {
  return { package: '@vladmandic/face-api', version, file, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') };
}

interface RawWeights {
  files: WeightFile[];
  /** Each manifest group with its weight files' bytes joined. */
  groups: { weights: tf.io.WeightsManifestEntry[]; bytes: Buffer }[];
}

/** Reads a weight set's manifest and files from the installed package and hashes each file. */
async function readRawWeights(name: FaceModelName): Promise<RawWeights> {
  const root = faceApiPackageDir();
  const version = faceApiVersion();
  const manifestFile = `model/${name}-weights_manifest.json`;
  const manifestBytes = await readFile(join(root, manifestFile));
  const files = [record(manifestFile, manifestBytes, version)];
  const groups: RawWeights['groups'] = [];
  for (const group of JSON.parse(manifestBytes.toString('utf8')) as ManifestGroup[]) {
    const parts: Buffer[] = [];
    for (const path of group.paths) {
      const file = `model/${path}`;
      const bytes = await readFile(join(root, file));
      files.push(record(file, bytes, version));
      parts.push(bytes);
    }
    groups.push({ weights: group.weights, bytes: Buffer.concat(parts) });
  }
  return { files, groups };
}

/**
 * Reads `model/<name>-weights_manifest.json` and its weight files from the installed package,
 * hashes them and decodes the (uint8-quantised) weights to float32 tensors.
 *
 * @example
 * const { weightMap, files } = await readFaceWeights('face_recognition_model');
 * files[1]; // { package: '@vladmandic/face-api', version: '1.7.15', file: 'model/face_recognition_model.bin', bytes: 6444032, sha256: 'b413…' }
 */
export async function readFaceWeights(name: FaceModelName): Promise<LoadedWeights> {
  const { files, groups } = await readRawWeights(name);
  const weightMap: tf.NamedTensorMap = {};
  for (const { weights, bytes } of groups) {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    Object.assign(weightMap, tf.io.decodeWeights(buffer, weights));
  }
  return { weightMap, files };
}

/**
 * The files of a weight set with their sha256, and its parameter count, without decoding anything
 * (what a model card records).
 *
 * @example
 * const { files, parameters } = await describeFaceWeights('face_recognition_model');
 */
export async function describeFaceWeights(name: FaceModelName): Promise<{ files: WeightFile[]; parameters: number }> {
  const { files, groups } = await readRawWeights(name);
  const parameters = groups.flatMap((g) => g.weights).reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
  return { files, parameters };
}
