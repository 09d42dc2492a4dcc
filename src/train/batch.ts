/**
 * Training batches in two halves: `planBatch` picks which images go in (cheap, deterministic, on the
 * main thread, so a run is reproducible whatever the number of workers) and `materialiseBatch` turns a
 * plan into pixels with rotations and random affine distortions (in the worker that trains on it).
 *
 * Identities can be multiplied by their four right-angle rotations ("virtual identities"). Image
 * references in a plan are encoded as `image * rotations + quarterTurns`, so the samplers in
 * src/data/pairs.ts work on virtual identities without knowing about rotations.
 */
import type { Rng } from '../data/rng.js';
import { createRng } from '../data/rng.js';
import { samplePairs, samplePK, sampleNPair } from '../data/pairs.js';
import { borderMean, rotate90, randomAffine, warpAffine, type AffineRanges } from '../data/augment.js';
import type { LossName } from '../model/config.js';

/** The images of a training or validation split, grouped for sampling. */
export interface ClassPool {
  /** 1, or 4 when each rotation of an identity is its own identity. */
  rotations: 1 | 4;
  /** Identity label of every image of the set. */
  labels: Int32Array;
  /** Virtual identity → encoded image references. */
  members: Map<number, number[]>;
  /** Virtual identities with at least one image, ascending. */
  classes: number[];
  /** Virtual identity → its position in `classes` (the proxy row of the CosFace loss). */
  classIndex: Map<number, number>;
}

export interface BatchPlan {
  loss: LossName;
  /** Encoded image references (see module comment). */
  refs: Int32Array;
  /** Class of each reference, as its position in the pool's `classes` (triplet compares them; CosFace picks proxy rows with them). */
  classes: Int32Array;
  /** Pair losses: 1 for a same-identity pair; the first half of refs are the `a` sides, the second half the `b` sides. */
  same?: Float32Array;
  /** Seed of the augmentation of this batch. */
  augmentSeed: number;
}

/**
 * Groups the images of the given identities for sampling.
 *
 * @example
 * const pool = buildClassPool(set.labels, split.train, true); // Omniglot: 4 rotations each
 */
export function buildClassPool(labels: Int32Array, identities: number[], rotate: boolean): ClassPool {
  const rotations: 1 | 4 = rotate ? 4 : 1;
  const wanted = new Set(identities);
  const members = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (!wanted.has(label)) continue;
    for (let r = 0; r < rotations; r++) {
      const virtual = label * rotations + r;
      let list = members.get(virtual);
      if (!list) members.set(virtual, (list = []));
      list.push(i * rotations + r);
    }
  }
  const classes = [...members.keys()].sort((a, b) => a - b);
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  return { rotations, labels, members, classes, classIndex };
}

export interface PlanOptions {
  loss: LossName;
  batchImages: number;
  samplesPerIdentity: number;
}

/** Picks the images of one training step. Pure given `rng`. */
export function planBatch(pool: ClassPool, options: PlanOptions, rng: Rng): BatchPlan {
  const augmentSeed = rng.int(0x7fffffff);
  if (options.loss === 'contrastive' || options.loss === 'euclidean') {
    const pairs = samplePairs(pool.members, pool.classes, Math.max(2, Math.floor(options.batchImages / 2)), rng);
    const refs = new Int32Array(pairs.a.length * 2);
    refs.set(pairs.a, 0);
    refs.set(pairs.b, pairs.a.length);
    return { loss: options.loss, refs, classes: new Int32Array(0), same: pairs.same, augmentSeed };
  }
  const perClass = options.loss === 'triplet' || options.loss === 'cosface' ? options.samplesPerIdentity : 2;
  const P = Math.min(Math.max(2, Math.floor(options.batchImages / perClass)), pool.classes.length);
  const refs = options.loss === 'npair' ? sampleNPair(pool.members, pool.classes, P, rng) : samplePK(pool.members, pool.classes, P, perClass, rng);
  return { loss: options.loss, refs, classes: refsToClasses(pool, refs), augmentSeed };
}

/** Class of each encoded reference: the position in `pool.classes` of its virtual identity (label x rotations + quarter turns). */
function refsToClasses(pool: ClassPool, refs: Int32Array): Int32Array {
  const r = pool.rotations;
  return Int32Array.from(refs, (ref) => pool.classIndex.get(pool.labels[Math.floor(ref / r)]! * r + (ref % r))!);
}

/** Image pixels of a plan: one NHWC Float32Array, rotated and distorted as planned. */
export function materialiseBatch(
  images: Float32Array,
  shape: readonly [number, number, number],
  plan: BatchPlan,
  rotations: number,
  augment: AffineRanges | null,
): Float32Array {
  const [h, w, c] = shape;
  const size = h * w * c;
  const out = new Float32Array(plan.refs.length * size);
  const rng = createRng(plan.augmentSeed);
  for (let i = 0; i < plan.refs.length; i++) {
    const ref = plan.refs[i]!;
    const image = Math.floor(ref / rotations);
    const turns = ref % rotations;
    let pixels: Float32Array = images.subarray(image * size, (image + 1) * size);
    if (turns) pixels = rotate90(pixels, w, h, c, turns);
    if (augment) pixels = warpAffine(pixels, w, h, c, randomAffine(rng, augment), borderMean(pixels, w, h, c));
    out.set(pixels, i * size);
  }
  return out;
}
