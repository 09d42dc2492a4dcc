/**
 * `--preset faces`: the best face model measured here, made from the user's gallery. It is the
 * pretrained face tower as published (face-api's detector, 68 landmarks, dlib alignment and 128-d
 * recognition net, src/face), calibrated on the user's people: a head trained on top did not beat it
 * by more than a pair or two of 450 on AT&T (docs/research/2026-12-face-head.md), and zero-shot needs
 * no training split, so every identity of the gallery calibrates the thresholds (pairs and open set).
 * Each photo's largest face is described once (worker threads); photos without a face are listed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { galleryDigest, readGallery } from '../data/gallery.js';
import { createRng } from '../data/rng.js';
import { selectIdentities } from '../data/select.js';
import { openEmbedder } from '../embedding/open.js';
import { DLIB_THRESHOLD, saveFaceModel } from '../face/model.js';
import type { ModelCard } from '../model/card.js';
import { FACE_DESCRIPTOR_DIM } from '../face/tower.js';
import { calibrateHeldOut, type HeldOutCalibration } from './held-out.js';
import type { TrainOptions } from './options.js';
import { scoreEmbeddings } from './validate.js';
import { writePlots } from './plots.js';
import { pairDistances, rocCurve } from '../metrics/index.js';
import { allPairs } from '../data/pairs.js';

/** The options the faces preset reads; the rest of `TrainOptions` has no part in a model nothing is trained for. */
export type FacePresetOptions = Pick<TrainOptions, 'data' | 'out' | 'includeIdentities' | 'excludeIdentities' | 'targetFars' | 'targetFpir' | 'seed' | 'backend' | 'workers' | 'onUnreadable'>;

export interface FacePresetResult {
  card: ModelCard;
  calibration: HeldOutCalibration;
  /** Gallery files (relative to the gallery root) in which no face was found: left out of calibration. */
  noFace: string[];
  /** Gallery files with several faces (the largest was used), and how many. */
  severalFaces: { file: string; faces: number }[];
  /** Files that could not be decoded (with `onUnreadable: 'skip'`), and why. */
  skipped: { file: string; reason: string }[];
}

export interface FacePresetHooks {
  log?: (message: string) => void;
  onLoadProgress?: (done: number, total: number) => void;
}

/** Card fields of a model nobody has calibrated yet: the describing pass needs a card on disk to start its workers. */
const UNCALIBRATED = {
  thresholds: { eer: { threshold: DLIB_THRESHOLD, far: 0, tar: 0 }, atFar: [], default: DLIB_THRESHOLD },
  validation: { auc: 0, eer: 0, samePairs: 0, differentPairs: 0 },
};

/**
 * Describes every gallery photo's largest face and writes a calibrated face model into `options.out`.
 *
 * @example
 * const { card, noFace } = await buildFaceModel({ ...DEFAULT_TRAIN_OPTIONS, data: 'people', out: 'models/faces' }, { log: console.error });
 * card.thresholds.openSet; // FPIR / TIR at the default threshold, with a warning when the gallery is small
 */
export async function buildFaceModel(options: FacePresetOptions, hooks: FacePresetHooks = {}): Promise<FacePresetResult> {
  const log = hooks.log ?? (() => {});
  const started = performance.now();
  const gallery = selectIdentities(await readGallery(options.data), {
    include: options.includeIdentities ? new RegExp(options.includeIdentities) : undefined,
    exclude: options.excludeIdentities ? new RegExp(options.excludeIdentities) : undefined,
  });
  for (const w of gallery.warnings) log(`warning: ${w}`);
  const files = gallery.identities.flatMap((identity) => identity.files);
  const fileLabels = gallery.identities.flatMap((identity, label) => identity.files.map(() => label));
  const relative = (i: number): string => path.relative(gallery.root, files[i]!);
  const name = path.basename(path.resolve(options.out));
  const training = {
    backend: options.backend ?? 'auto', seed: options.seed, epochs: 0, steps: 0, batchSize: 1, learningRate: 0, wallSeconds: 0,
    trainIdentities: 0, valIdentities: gallery.identities.length, images: files.length, dataDigest: await galleryDigest(gallery), dataRoot: path.resolve(options.data),
  };

  const scratch = await mkdtemp(path.join(tmpdir(), 'twinsearch-faces-'));
  let described;
  try {
    await saveFaceModel(scratch, { name, ...UNCALIBRATED, training });
    const workers = options.workers >= 0 ? options.workers : 2;
    log(`describing the largest face of ${files.length} photos of ${gallery.identities.length} identities${workers ? ` on ${workers} worker threads` : ''}`);
    const embedder = await openEmbedder(scratch, { workers, backend: options.backend });
    try {
      described = await embedder.embedAll(files, { onProgress: hooks.onLoadProgress });
    } finally {
      await embedder.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }

  const none = new Set(described.faces?.none ?? []);
  const skipped = described.failed.filter((f) => !none.has(f.index)).map((f) => ({ file: relative(f.index), reason: f.reason }));
  if (skipped.length && options.onUnreadable === 'fail') {
    throw new Error(`${skipped.length} unreadable images, e.g. ${skipped[0]!.file}: ${skipped[0]!.reason} (--skip-unreadable leaves them out)`);
  }
  for (const s of skipped) log(`warning: skipped ${s.file}: ${s.reason}`);
  const noFace = [...none].map(relative);
  if (noFace.length) log(`warning: no face found in ${noFace.length} photos, left out: ${noFace.slice(0, 10).join(', ')}${noFace.length > 10 ? ', ...' : ''}`);
  const severalFaces = (described.faces?.several ?? []).map((s) => ({ file: relative(s.index), faces: s.faces }));
  if (severalFaces.length) log(`note: ${severalFaces.length} photos hold several faces; the largest was used (${severalFaces.slice(0, 5).map((s) => s.file).join(', ')})`);

  const failed = new Set(described.failed.map((f) => f.index));
  const kept = files.map((_, i) => i).filter((i) => !failed.has(i));
  const dim = FACE_DESCRIPTOR_DIM;
  const vectors = new Float32Array(kept.length * dim);
  kept.forEach((i, row) => vectors.set(described.vectors.subarray(i * dim, (i + 1) * dim), row * dim));
  const labels = Int32Array.from(kept, (i) => fileLabels[i]!);
  const identities = new Set(labels).size;
  if (identities < 2) throw new Error(`calibration needs faces of at least 2 identities; found faces of ${identities} in ${options.data}`);

  const distances = pairDistances(vectors, dim, labels, allPairs(labels, 200_000, createRng(options.seed + 11)));
  const calibration = calibrateHeldOut(vectors, dim, labels, distances, scoreEmbeddings(vectors, dim, labels, distances), { targetFars: options.targetFars, targetFpir: options.targetFpir });
  const card = await saveFaceModel(options.out, {
    name,
    thresholds: calibration.thresholds,
    validation: calibration.validation,
    training: {
      ...training,
      wallSeconds: (performance.now() - started) / 1000,
      valIdentities: identities,
      images: kept.length,
      preset: 'faces',
      calibratedOn: 'every identity of the gallery (the tower is used as published: nothing was trained)',
      noFace,
      severalFaces,
    },
  });
  await writePlots(options.out, {
    history: [],
    calibration: calibration.calibration,
    same: distances.same,
    different: distances.different,
    roc: rocCurve(distances.same, distances.different),
  });
  return { card, calibration, noFace, severalFaces, skipped };
}
