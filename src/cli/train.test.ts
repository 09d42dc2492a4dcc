import { describe, expect, it } from 'vitest';
import { KOCH_AFFINE_RANGES, STRONG_AFFINE_RANGES } from '../data/augment.js';
import { affineRanges, optionsFromFlags, trainCommand } from './train.js';

const parse = (args: string[]) => optionsFromFlags(trainCommand().exitOverride().parse(['--data', 'g', '--out', 'm', ...args], { from: 'user' }).opts());

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

  it('--augment alone means Koch et al.; strong and --flip as asked', () => {
    expect(parse(['--augment']).augment).toMatchObject({ rotationDeg: KOCH_AFFINE_RANGES.rotationDeg, flipProbability: 0 });
    expect(parse(['--augment', 'strong', '--flip']).augment).toMatchObject({ rotationDeg: STRONG_AFFINE_RANGES.rotationDeg, flipProbability: 0.5 });
    // --flip without --augment mirrors but does not distort.
    expect(affineRanges(undefined, true)).toMatchObject({ probability: 0, flipProbability: 0.5 });
  });

  it('rejects values out of range', () => {
    expect(() => parse(['--input-size', '4'])).toThrow(/out of range/);
    expect(() => parse(['--val-fraction', '1'])).toThrow(/\[0, 1\)/);
    expect(() => parse(['--augment', 'wild'])).toThrow(/wild/);
  });
});
