/**
 * `npm run train -- --data DIR --out DIR --preset faces` as a user runs it, on a tiny AT&T gallery
 * (4 people, 3 photos each, plus a photo without a face): a face model card that validates, with the
 * open-set calibration on every identity, its warning (4 people are too few), and the faceless photo listed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsDir } from '../src/data/datasets.js';
import { parseModelCard, type ModelCard } from '../src/model/card.js';

const att = path.join(datasetsDir(), 'att-faces');
const PEOPLE = ['s1', 's2', 's3', 's4'];

describe.skipIf(!existsSync(att))('npm run train -- --preset faces', () => {
  let dir: string;
  let stderr = '';
  let code: number | null = null;
  let card: ModelCard;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'twinsearch-faces-preset-'));
    const gallery = path.join(dir, 'gallery');
    for (const person of PEOPLE) {
      await mkdir(path.join(gallery, person), { recursive: true });
      for (const photo of [1, 2, 3]) await copyFile(path.join(att, person, `${photo}.png`), path.join(gallery, person, `${photo}.png`));
    }
    // A photo of a wall: listed, not silently dropped.
    await sharp({ create: { width: 92, height: 112, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toFile(path.join(gallery, 's4', 'wall.png'));
    const out = path.join(dir, 'model');
    await new Promise<void>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/train.ts', '--data', gallery, '--out', out, '--preset', 'faces', '--workers', '0', '--backend', 'wasm'], { env: { ...process.env, NO_COLOR: '1' } });
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (exit) => {
        code = exit;
        resolve();
      });
    });
    card = parseModelCard(await readFile(path.join(out, 'model-card.json'), 'utf8'));
  }, 180_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes a valid face model card: the face stage and the pretrained tower, nothing trained', () => {
    expect(code, stderr).toBe(0);
    expect(card.preprocess.face?.detector.name).toBe('tiny');
    expect(card.tower).toMatchObject({ arch: 'pretrained', embeddingSize: 128 });
    expect(card.loss.name).toBe('none');
    expect(card.weights).toBeUndefined();
    expect(card.training).toMatchObject({ preset: 'faces', trainIdentities: 0, valIdentities: 4, images: 12 });
  });

  it('calibrates on every identity: pairs and open set, the open-set threshold deciding, with the small-data warning', () => {
    const openSet = card.thresholds.openSet!;
    expect(openSet).toMatchObject({ strangerIdentities: 4, galleryIdentities: 3, strangers: 12, knownProbes: 4, targetFpir: 0.01 });
    expect(openSet.fpir).toBe(0);
    // Four AT&T people are easy for this tower: every known photo is found at the threshold.
    expect(openSet.tir).toBe(1);
    expect(card.thresholds.default).toBe(openSet.threshold);
    expect(openSet.warning).toMatch(/12 stranger images.*4 stranger identities/);
    expect(card.validation).toMatchObject({ samePairs: 12, differentPairs: 54, rank1: 1 });
    expect(stderr).toMatch(/open set: at threshold [\d.]+, 0% of 12 stranger images \(4 people\) were matched to someone/);
    expect(stderr).toMatch(/WARNING: too little calibration data/);
  });

  it('lists the photo without a face in the card and in its output', () => {
    expect(card.training.noFace).toEqual(['s4/wall.png']);
    expect(stderr).toMatch(/no face found in 1 photos, left out: s4\/wall\.png/);
  });
});
