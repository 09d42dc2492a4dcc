/**
 * The one door to `@vladmandic/face-api`: its Node build for tfjs without tfjs-node
 * (`dist/face-api.node-wasm.js`, CommonJS), loaded on this process's tfjs instance, behind the
 * few types this module uses. The package's own type file declares a second copy of tfjs's
 * classes, so its nets are typed here against ours.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** A box in pixels (x, y = top-left corner). */
export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A point in pixels. */
export interface Point {
  x: number;
  y: number;
}

/** Every face-api net: weights come in as a decoded weight map; `dispose` frees them. */
export interface FaceApiNet {
  readonly isLoaded: boolean;
  loadFromWeightMap(weightMap: tf.NamedTensorMap): void;
  dispose(throwOnRedispose?: boolean): void;
}

/** One detection: `relativeBox` is in [0, 1] of the input's width and height. */
export interface FaceApiDetection {
  readonly score: number;
  readonly relativeBox: Box;
}

export interface SsdMobilenetv1Net extends FaceApiNet {
  locateFaces(input: tf.Tensor3D, options: { minConfidence: number; maxResults: number }): Promise<FaceApiDetection[]>;
}

export interface TinyFaceDetectorNet extends FaceApiNet {
  locateFaces(input: tf.Tensor3D, options: { inputSize: number; scoreThreshold: number }): Promise<FaceApiDetection[]>;
}

/** 68 landmarks; `relativePositions` are in [0, 1] of the input image. */
export interface FaceApiLandmarks {
  readonly relativePositions: Point[];
}

export interface LandmarkNet extends FaceApiNet {
  detectLandmarks(input: tf.Tensor3D[]): Promise<FaceApiLandmarks[]>;
}

export interface RecognitionNet extends FaceApiNet {
  /** Pads each input to a square, resizes it to 150x150 and returns one 128-d row per input. */
  forward(input: tf.Tensor3D[]): Promise<tf.Tensor2D>;
  /** The package's own descriptor path (one image → one Float32Array), kept for tests. */
  computeFaceDescriptor(input: tf.Tensor3D): Promise<Float32Array>;
}

export interface FaceApiModule {
  readonly version: string;
  /** The tfjs face-api itself required (must be ours). */
  readonly tf: { engine(): unknown; Tensor: abstract new (...args: never[]) => unknown };
  SsdMobilenetv1: new () => SsdMobilenetv1Net;
  TinyFaceDetector: new () => TinyFaceDetectorNet;
  FaceLandmark68Net: new () => LandmarkNet;
  FaceLandmark68TinyNet: new () => LandmarkNet;
  FaceRecognitionNet: new () => RecognitionNet;
}

const PACKAGE = '@vladmandic/face-api';
const require = createRequire(import.meta.url);

/** The installed package's folder (its `model/` holds the weights). */
export function faceApiPackageDir(): string {
  return dirname(require.resolve(`${PACKAGE}/package.json`));
}

/** The installed package's version, from its package.json. */
export function faceApiVersion(): string {
  return (require(`${PACKAGE}/package.json`) as { version: string }).version;
}

let loaded: FaceApiModule | undefined;

/**
 * Loads face-api once per thread and checks that it runs on the same tfjs engine as this module:
 * its CommonJS `require('@tensorflow/tfjs')` and our ESM import must resolve to one copy, or its
 * tensors would live in another engine (another backend, another memory count).
 *
 * @example
 * const faceapi = loadFaceApi();
 * const net = new faceapi.FaceRecognitionNet();
 */
export function loadFaceApi(): FaceApiModule {
  if (loaded) return loaded;
  const module = require(`${PACKAGE}/dist/face-api.node-wasm.js`) as FaceApiModule;
  if (module.tf.engine() !== tf.engine()) {
    throw new Error(`${PACKAGE} loaded a second copy of @tensorflow/tfjs; install one version of tfjs (npm dedupe)`);
  }
  loaded = module;
  return module;
}
