import { describe, expect, it } from 'vitest';
import { KOCH_AFFINE_RANGES, STRONG_AFFINE_RANGES } from '../data/augment.js';
import { affineRanges, optionsFromFlags, trainCommand } from './train.js';
import { applyPreset } from './presets.js';

const parse = (args: string[]) => optionsFromFlags(trainCommand().exitOverride().parse(['--data', 'g', '--out', 'm', ...args], { from: 'user' }).opts());
const withPreset = (args: string[]) => {
  const command = trainCommand().exitOverride().parse(['--data', 'g', '--out', 'm', ...args], { from: 'user' });
  return { preset: applyPreset(command), options: optionsFromFlags(command.opts()) };
};

describe('--preset', () => {
  it('characters is the Omniglot recipe of docs/results.md', () => {
    const { preset, options } = withPreset(['--preset', 'characters']);
    expect(preset).toBe('characters');
    expect(options).toMatchObject({ loss: 'npair', scale: 25, rotateIdentities: true, learningRate: 2e-3, timeLimitMinutes: 25, epochs: 1000, stepsPerEpoch: 300, batchImages: 256, valFraction: 0.1, patience: 0 });
    expect(options.preprocess.invert).toBe(true);
    expect(options.augment).toMatchObject({ rotationDeg: KOCH_AFFINE_RANGES.rotationDeg, probability: KOCH_AFFINE_RANGES.probability });
  });

  it('flags given on the command line override the preset, wherever they stand', () => {
    const { options } = withPreset(['--lr', '1e-3', '--preset', 'characters', '--minutes', '5', '--loss', 'triplet']);
    expect(options).toMatchObject({ learningRate: 1e-3, timeLimitMinutes: 5, loss: 'triplet', scale: 25, epochs: 1000 });
  });

  it('without a preset the defaults stand', () => {
    const { preset, options } = withPreset([]);
    expect(preset).toBeUndefined();
    expect(options).toMatchObject({ loss: 'contrastive', learningRate: 1e-3, epochs: 20, timeLimitMinutes: 0 });
  });

  it('faces takes the calibration and data flags, and refuses training flags instead of ignoring them', () => {
    const { preset, options } = withPreset(['--preset', 'faces', '--target-fpir', '0.05', '--include-identities', '^s1', '--workers', '0']);
    expect(preset).toBe('faces');
    expect(options).toMatchObject({ targetFpir: 0.05, includeIdentities: '^s1', workers: 0 });
    expect(() => withPreset(['--preset', 'faces', '--loss', 'cosface', '--epochs', '3'])).toThrow(/--preset faces trains nothing, so --loss, --epochs would have no effect/);
    expect(() => withPreset(['--preset', 'nothing'])).toThrow(/nothing/);
  });

  it('--target-fpir is a rate in (0, 1), 1% by default', () => {
    expect(parse([]).targetFpir).toBe(0.01);
    expect(() => parse(['--target-fpir', '0'])).toThrow(/\(0, 1\)/);
  });
});

describe('npm run train flags', () => {
  it('maps flags onto training options', () => {
    const o = parse(['--loss', 'npair', '--input-size', '46x56', '--invert', '--standardize', '--rotate-identities', '--include-identities', '^s1$', '--target-far', '1e-2,1e-3']);
    expect(o.loss).toBe('npair');
    expect(o.preprocess).toMatchObject({ width: 46, height: 56, invert: true, standardize: true });
    expect(o.rotateIdentities).toBe(true);
    expect(o.includeIdentities).toBe('^s1$');
    expect(o.targetFars).toEqual([1e-2, 1e-3]);
    expect(o.augment).toBeNull();
  });

  it('--loss cosface brings its own margin and scale unless given; other losses keep theirs', () => {
    expect(parse(['--loss', 'cosface'])).toMatchObject({ loss: 'cosface', margin: 0.2, scale: 16 });
    expect(parse(['--loss', 'cosface', '--margin', '0.35', '--scale', '30'])).toMatchObject({ margin: 0.35, scale: 30 });
    expect(parse([])).toMatchObject({ loss: 'contrastive', margin: 1, scale: 10 });
    expect(parse(['--loss', 'triplet', '--margin', '0.3'])).toMatchObject({ margin: 0.3 });
  });

  it('--augment alone means Koch et al.; strong and --flip as asked', () => {
    expect(parse(['--augment']).augment).toMatchObject({ rotationDeg: KOCH_AFFINE_RANGES.rotationDeg, flipProbability: 0 });
    expect(parse(['--augment', 'strong', '--flip']).augment).toMatchObject({ rotationDeg: STRONG_AFFINE_RANGES.rotationDeg, flipProbability: 0.5 });
    // --flip without --augment mirrors but does not distort.
    expect(affineRanges(undefined, true)).toMatchObject({ probability: 0, flipProbability: 0.5 });
  });

  it('--aug-* override the preset only with --augment; --photometric adds lighting jitter', () => {
    const o = parse(['--augment', '--aug-rotation', '15', '--aug-scale', '0.8,1.25', '--aug-shift', '0.08', '--aug-shear', '0', '--aug-probability', '0.7', '--photometric', '0.1,0.2,0.3']);
    expect(o.augment).toMatchObject({ rotationDeg: 15, scale: [0.8, 1.25], shift: 0.08, shear: 0, probability: 0.7, photometric: { brightness: 0.1, contrast: 0.2, gamma: 0.3 } });
    expect(parse(['--augment']).augment).not.toHaveProperty('photometric');
    expect(parse(['--augment']).augment).not.toHaveProperty('isotropic');
    expect(parse(['--augment', '--aug-isotropic']).augment).toMatchObject({ isotropic: true });
    // Lighting alone: no distortion, no mirror.
    expect(parse(['--photometric', '0,0.1,0'])).toMatchObject({ augment: { probability: 0, flipProbability: 0, photometric: { contrast: 0.1 } } });
    expect(() => parse(['--augment', '--aug-scale', '1.2,0.8'])).toThrow(/MIN,MAX/);
    expect(() => parse(['--photometric', '0.1,1,0'])).toThrow(/contrast below 1/);
    expect(parse(['--photometric', '0.1,0.2,0.3,0.4']).augment).toMatchObject({ photometric: { shading: 0.4 } });
    expect(parse(['--photometric', '0.1,0.2,0.3']).augment!.photometric).not.toHaveProperty('shading');
  });

  it('--erase adds random erasing, with the paper\'s ranges unless an area range is given', () => {
    expect(parse(['--erase', '0.5'])).toMatchObject({ augment: { probability: 0, flipProbability: 0, erase: { probability: 0.5, area: [0.02, 0.4] } } });
    expect(parse(['--augment', '--erase', '0.25,0.05,0.2']).augment).toMatchObject({ erase: { probability: 0.25, area: [0.05, 0.2] } });
    expect(parse(['--augment']).augment).not.toHaveProperty('erase');
    for (const bad of ['1.5', '0.5,0.2', '0.5,0.3,0.1', '0.5,0,0.2']) expect(() => parse(['--erase', bad]), bad).toThrow(/P or P,MIN,MAX/);
  });

  it('--head, --dropout and --weight-decay reach the tower and the options; defaults leave the tower as it was', () => {
    const o = parse(['--head', 'gap', '--dropout', '0.25', '--weight-decay', '0.5']);
    expect(o.tower).toMatchObject({ head: 'gap', dropout: 0.25 });
    expect(o.weightDecay).toBe(0.5);
    const plain = parse([]);
    expect(plain.tower).not.toHaveProperty('head');
    expect(plain.tower).not.toHaveProperty('dropout');
    expect(plain.tower).not.toHaveProperty('flipAverage');
    expect(parse(['--flip-average']).tower.flipAverage).toBe(true);
    expect(plain).not.toHaveProperty('center');
    expect(parse(['--center']).center).toBe(true);
    expect(() => parse(['--center', '--no-l2'])).toThrow(/--center.*cannot be used with.*--no-l2/);
    expect(plain.weightDecay).toBe(0);
    expect(plain.keep).toBe('best');
    expect(parse(['--keep', 'last']).keep).toBe('last');
    expect(parse(['--keep', 'average', '--average-from', '0.5'])).toMatchObject({ keep: 'average', averageFrom: 0.5 });
    expect(plain.averageFrom).toBe(0.75);
    expect(() => parse(['--average-from', '1.5'])).toThrow(/1\.5/);
    expect(() => parse(['--keep', 'worst'])).toThrow(/worst/);
    expect(() => parse(['--head', 'max'])).toThrow(/max/);
  });

  it('--crop goes into the preprocessing (model card); absent by default', () => {
    expect(parse(['--crop', '0.1,0.15,0.8,0.75']).preprocess.crop).toEqual({ left: 0.1, top: 0.15, width: 0.8, height: 0.75 });
    expect(parse([]).preprocess).not.toHaveProperty('crop');
    expect(() => parse(['--crop', '0.5,0,0.6,1'])).toThrow(/inside the image/);
  });

  it('rejects values out of range', () => {
    expect(() => parse(['--input-size', '4'])).toThrow(/out of range/);
    expect(() => parse(['--val-fraction', '1'])).toThrow(/\[0, 1\)/);
    expect(() => parse(['--augment', 'wild'])).toThrow(/wild/);
  });
});
