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

  it('--flip-average and --center reach the tower and the options; defaults leave the tower as it was', () => {
    const plain = parse([]);
    // A default tower card holds no optional key, so models trained without them keep their ids.
    expect(Object.keys(plain.tower).sort()).toEqual(['arch', 'embeddingSize', 'filters', 'l2Normalize']);
    expect(parse(['--flip-average']).tower.flipAverage).toBe(true);
    expect(plain).not.toHaveProperty('center');
    expect(parse(['--center']).center).toBe(true);
    expect(() => parse(['--center', '--no-l2'])).toThrow(/--center.*cannot be used with.*--no-l2/);
  });

  it('--keep-weights picks the best or the last epoch; the removed research flags are unknown options', () => {
    expect(parse([]).keepWeights).toBe('best');
    expect(parse(['--keep-weights', 'last']).keepWeights).toBe('last');
    expect(() => parse(['--keep-weights', 'average'])).toThrow(/average/);
    for (const removed of [['--keep', 'last'], ['--head', 'gap'], ['--dropout', '0.3'], ['--weight-decay', '0.5'], ['--aug-rotation', '15'], ['--aug-isotropic'], ['--photometric', '0.1,0.2,0.3'], ['--erase', '0.5'], ['--groups-per-batch', '2'], ['--average-from', '0.5'], ['--init-from', 'm']]) {
      expect(() => parse(removed), removed[0]).toThrow(/unknown option/);
    }
  });

  it('--crop goes into the preprocessing (model card); absent by default', () => {
    expect(parse(['--crop', '0.1,0.15,0.8,0.75']).preprocess.crop).toEqual({ left: 0.1, top: 0.15, width: 0.8, height: 0.75 });
    expect(parse([]).preprocess).not.toHaveProperty('crop');
    expect(() => parse(['--crop', '0.5,0,0.6,1'])).toThrow(/inside the image/);
  });

  it('--max-input-pixels raises the decoded-pixel limit; absent, the default applies', () => {
    expect(parse(['--max-input-pixels', '100000000']).maxInputPixels).toBe(100_000_000);
    expect(parse([])).not.toHaveProperty('maxInputPixels');
    expect(() => parse(['--max-input-pixels', '0'])).toThrow(/at least 1/);
  });

  it('rejects values out of range', () => {
    expect(() => parse(['--input-size', '4'])).toThrow(/out of range/);
    expect(() => parse(['--val-fraction', '1'])).toThrow(/\[0, 1\)/);
    expect(() => parse(['--augment', 'wild'])).toThrow(/wild/);
  });
});
