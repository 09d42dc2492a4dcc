/**
 * Builds face-api's nets on this process's tfjs engine from the package's weight files. Each net
 * is its own instance (not face-api's global `nets`), so two stages in one thread do not share or
 * dispose each other's weights.
 */
import * as tf from '@tensorflow/tfjs';
import {
  loadFaceApi,
  type FaceApiModule,
  type FaceApiNet,
  type LandmarkNet,
  type RecognitionNet,
  type SsdMobilenetv1Net,
  type TinyFaceDetectorNet,
} from './faceapi.js';
import { readFaceWeights, type FaceModelName, type WeightFile } from './weights.js';

interface NetKinds {
  ssd: SsdMobilenetv1Net;
  tiny: TinyFaceDetectorNet;
  landmarks68: LandmarkNet;
  landmarks68Tiny: LandmarkNet;
  recognition: RecognitionNet;
}

export type NetKind = keyof NetKinds;

const NETS: { [K in NetKind]: { weights: FaceModelName; create: (api: FaceApiModule) => NetKinds[K] } } = {
  ssd: { weights: 'ssd_mobilenetv1_model', create: (api) => new api.SsdMobilenetv1() },
  tiny: { weights: 'tiny_face_detector_model', create: (api) => new api.TinyFaceDetector() },
  landmarks68: { weights: 'face_landmark_68_model', create: (api) => new api.FaceLandmark68Net() },
  landmarks68Tiny: { weights: 'face_landmark_68_tiny_model', create: (api) => new api.FaceLandmark68TinyNet() },
  recognition: { weights: 'face_recognition_model', create: (api) => new api.FaceRecognitionNet() },
};

/** The weight set (file stem in face-api's `model/`) a net kind loads. */
export const netWeights = (kind: NetKind): FaceModelName => NETS[kind].weights;

export interface LoadedNet<N extends FaceApiNet> {
  net: N;
  /** The files its weights were read from (manifest + weights), with sha256. */
  files: WeightFile[];
}

/**
 * Loads one net (face-api's loaders dispose the decoded tensors a net does not keep).
 *
 * @example
 * const { net, files } = await loadNet('recognition');
 * // … net.forward([face]) …
 * net.dispose();
 */
export async function loadNet<K extends NetKind>(kind: K): Promise<LoadedNet<NetKinds[K]>> {
  const spec = NETS[kind];
  const net = spec.create(loadFaceApi());
  const { weightMap, files } = await readFaceWeights(spec.weights);
  try {
    net.loadFromWeightMap(weightMap);
  } catch (error) {
    tf.dispose(Object.values(weightMap));
    throw error;
  }
  return { net, files };
}
