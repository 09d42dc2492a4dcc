import { describe, expect, it } from 'vitest';
import { KOCH_AFFINE_RANGES } from '../data/augment.js';
import { DEFAULT_TRAIN_OPTIONS, learningRateAt, optionsFromCheckpoint, type TrainOptions } from './options.js';

const current: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, data: 'gallery', out: 'model', keepWeights: 'last', augment: { ...KOCH_AFFINE_RANGES, flipProbability: 0.5 } };

/** Options as a checkpoint of the previous version stored them: `keep`, and the removed options at their off values. */
function previousVersion(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const { keepWeights: _, ...rest } = current;
  return JSON.parse(JSON.stringify({ ...rest, keep: 'last', weightDecay: 0, groupsPerBatch: 0, averageFrom: 0.75, initFrom: 'models/base', ...changes }));
}

describe('optionsFromCheckpoint', () => {
  it('resumes the options a checkpoint of this version stored unchanged', () => {
    expect(optionsFromCheckpoint(JSON.parse(JSON.stringify(current)))).toEqual(current);
  });

  it("reads an earlier checkpoint's keep as keepWeights and drops the removed options left off", () => {
    expect(optionsFromCheckpoint(previousVersion())).toEqual(current);
    expect(optionsFromCheckpoint(previousVersion({ keep: 'best' })).keepWeights).toBe('best');
    expect(optionsFromCheckpoint(previousVersion({ keep: undefined })).keepWeights).toBe('best');
    const withDefaults = previousVersion({ tower: { ...current.tower, head: 'flatten', dropout: 0 } });
    expect(optionsFromCheckpoint(withDefaults).tower).toEqual(current.tower);
  });

  it('refuses, naming it, a run that used a removed option (resuming without it would be another run)', () => {
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{ keep: 'average' }, /weight averaging \(keep: 'average'\)/],
      [{ weightDecay: 0.5 }, /weight decay \(weightDecay: 0\.5\)/],
      [{ groupsPerBatch: 2 }, /groupsPerBatch: 2/],
      [{ tower: { ...current.tower, head: 'gap' } }, /the gap head/],
      [{ tower: { ...current.tower, dropout: 0.3 } }, /dropout/],
      [{ augment: { ...current.augment, photometric: { brightness: 0.1, contrast: 0.2, gamma: 0.3 } } }, /lighting augmentation/],
      [{ augment: { ...current.augment, erase: { probability: 0.5, area: [0.02, 0.4], aspect: [0.3, 3.3] } } }, /random erasing/],
      [{ augment: { ...current.augment, isotropic: true } }, /zoom augmentation/],
    ];
    for (const [change, reason] of refused) {
      expect(() => optionsFromCheckpoint(previousVersion(change)), reason.source).toThrow(reason);
      expect(() => optionsFromCheckpoint(previousVersion(change))).toThrow(/cannot be resumed; start the run again without --resume/);
    }
  });
});

describe('learningRateAt', () => {
  it('decays from the learning rate to its final fraction along half a cosine', () => {
    const options = { learningRate: 1e-3, finalLearningRateFraction: 0.1 };
    expect(learningRateAt(options, 0)).toBeCloseTo(1e-3, 12);
    expect(learningRateAt(options, 0.5)).toBeCloseTo(0.55e-3, 12);
    expect(learningRateAt(options, 1)).toBeCloseTo(1e-4, 12);
    expect(learningRateAt(options, 2)).toBeCloseTo(1e-4, 12);
  });
});
