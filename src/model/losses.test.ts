import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { batchHardTripletLoss, contrastiveLoss, cosFaceLoss, euclideanPairLoss, npairLoss, pairDistance, pairwiseDistances } from './losses.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const values = (t: tf.Tensor): number[] => Array.from(t.dataSync());
const allFinite = (t: tf.Tensor): boolean => values(t).every(Number.isFinite);
const softplus = (x: number): number => Math.log1p(Math.exp(x));

/** Runs `fn`, disposes its result and checks no tensor outlived it. */
function scalarWithoutLeak(fn: () => tf.Tensor): number {
  const before = tf.memory().numTensors;
  const out = fn();
  const value = out.dataSync()[0];
  out.dispose();
  expect(tf.memory().numTensors).toBe(before);
  return value;
}

describe('pairDistance', () => {
  it('is the row-wise Euclidean distance, with only sqrt(epsilon) = 1e-6 added at 0', () => {
    const d = pairDistance(tf.tensor2d([[0, 0], [1, 1]]), tf.tensor2d([[3, 4], [1, 1]]));
    expect(values(d)[0]).toBeCloseTo(5, 6); // sqrt(9 + 16)
    expect(values(d)[1]).toBeCloseTo(1e-6, 9);
    d.dispose();
  });
});

describe('contrastiveLoss', () => {
  // d = [0.5, 0.5, 1.5, 0.2], same = [1, 0, 0, 0], margin 1:
  //   same pair:  0.5^2 / 2 = 0.125
  //   different:  max(0, 1 - 0.5)^2 / 2 = 0.125;  max(0, 1 - 1.5)^2 / 2 = 0;  max(0, 1 - 0.2)^2 / 2 = 0.32
  //   mean = (0.125 + 0.125 + 0 + 0.32) / 4 = 0.1425
  it('matches the hand-computed value, hinge included', () => {
    const d = tf.tensor1d([0.5, 0.5, 1.5, 0.2]);
    const same = tf.tensor1d([1, 0, 0, 0]);
    expect(scalarWithoutLeak(() => contrastiveLoss(d, same, 1))).toBeCloseTo(0.1425, 6);
    d.dispose();
    same.dispose();
  });

  it('has finite (zero) gradients when both embeddings are identical (d = 0)', () => {
    const a = tf.tensor2d([[0.3, -0.2], [0.3, -0.2]]);
    const b = tf.tensor2d([[0.3, -0.2], [0.3, -0.2]]);
    const same = tf.tensor1d([1, 0]);
    const g = tf.grad((x: tf.Tensor) => contrastiveLoss(pairDistance(x as tf.Tensor2D, b), same, 1))(a);
    expect(allFinite(g)).toBe(true);
    expect(values(g).map((v) => v + 0)).toEqual([0, 0, 0, 0]); // + 0 turns -0 into 0
    tf.dispose([a, b, same, g]);
  });
});

describe('euclideanPairLoss', () => {
  // Same d and labels, margin 1, no hinge and no halving:
  //   same pair: 0.5^2 = 0.25;  different: (1 - 0.5)^2 = 0.25, (1 - 1.5)^2 = 0.25, (1 - 0.2)^2 = 0.64
  //   mean = 1.39 / 4 = 0.3475
  it('matches the hand-computed value and penalises different pairs beyond the margin', () => {
    const d = tf.tensor1d([0.5, 0.5, 1.5, 0.2]);
    const same = tf.tensor1d([1, 0, 0, 0]);
    expect(scalarWithoutLeak(() => euclideanPairLoss(d, same, 1))).toBeCloseTo(0.3475, 6);
    tf.dispose([d, same]);
  });

  it('has finite gradients at d = 0', () => {
    const a = tf.tensor2d([[1, 2]]);
    const same = tf.tensor1d([0]);
    const g = tf.grad((x: tf.Tensor) => euclideanPairLoss(pairDistance(x as tf.Tensor2D, a), same, 2))(a);
    expect(allFinite(g)).toBe(true);
    tf.dispose([a, same, g]);
  });
});

describe('pairwiseDistances', () => {
  it('gives the full distance matrix with an exact zero diagonal', () => {
    // Points on a line through (3, 4): |p1 - p0| = 5, |p2 - p0| = 10, |p2 - p1| = 5.
    const d = pairwiseDistances(tf.tensor2d([[0, 0], [3, 4], [6, 8]]));
    const m = d.arraySync();
    expect(m.map((r) => r.map((v) => Number(v.toFixed(5))))).toEqual([[0, 5, 10], [5, 0, 5], [10, 5, 0]]);
    expect([m[0][0], m[1][1], m[2][2]]).toEqual([0, 0, 0]);
    d.dispose();
  });

  it('has finite gradients for duplicate rows', () => {
    const x = tf.tensor2d([[1, 2], [1, 2], [0, 1]]);
    const g = tf.grad((e: tf.Tensor) => tf.sum(pairwiseDistances(e as tf.Tensor2D)))(x);
    expect(allFinite(g)).toBe(true);
    tf.dispose([x, g]);
  });
});

describe('batchHardTripletLoss', () => {
  // 1-d embeddings 0, 1, 3, 7 with labels 0, 0, 1, 1: d01 = 1, d02 = 3, d03 = 7, d12 = 2, d13 = 6, d23 = 4.
  //   anchor 0: hardest pos d01 = 1, hardest neg min(3, 7) = 3 -> 1 - 3 + 0.5 = -1.5 -> 0
  //   anchor 1: pos d10 = 1, neg min(2, 6) = 2 -> -0.5 -> 0
  //   anchor 2: pos d23 = 4, neg min(3, 2) = 2 -> 2.5
  //   anchor 3: pos d32 = 4, neg min(7, 6) = 6 -> -1.5 -> 0
  //   mean = 2.5 / 4 = 0.625
  const emb = (): tf.Tensor2D => tf.tensor2d([[0], [1], [3], [7]]);
  const labels = (): tf.Tensor1D => tf.tensor1d([0, 0, 1, 1], 'int32');

  it('matches the hand-computed hinge value', () => {
    const [e, l] = [emb(), labels()];
    expect(scalarWithoutLeak(() => batchHardTripletLoss(e, l, 0.5))).toBeCloseTo(0.625, 5);
    tf.dispose([e, l]);
  });

  it('matches the hand-computed soft-margin value', () => {
    const [e, l] = [emb(), labels()];
    const expected = (softplus(-1.5) + softplus(-0.5) + softplus(2.5) + softplus(-1.5)) / 4;
    expect(scalarWithoutLeak(() => batchHardTripletLoss(e, l, 0.5, { soft: true }))).toBeCloseTo(expected, 5);
    tf.dispose([e, l]);
  });

  it('sends gradient only through the hardest pairs of the active anchor', () => {
    // Only anchor 2 is active: L = (d23 - d21 + 0.5) / 4.
    //   dL/de1 = -(e1 - e2)/d21 / 4 = 0.25;  dL/de2 = ((e2 - e3)/d23 - (e2 - e1)/d21) / 4 = (-1 - 1) / 4 = -0.5
    //   dL/de3 = (e3 - e2)/d23 / 4 = 0.25;   dL/de0 = 0
    const [e, l] = [emb(), labels()];
    const g = tf.grad((x: tf.Tensor) => batchHardTripletLoss(x as tf.Tensor2D, l, 0.5))(e);
    expect(values(g).map((v) => Number(v.toFixed(5)) + 0)).toEqual([0, 0.25, -0.5, 0.25]);
    tf.dispose([e, l, g]);
  });

  it('leaves anchors without a positive out of the mean', () => {
    // Add a lone identity at 10: anchors 0..3 keep their positives; anchor 3's hardest negative is now d34 = 3
    // -> 4 - 3 + 0.5 = 1.5. Anchor 4 has no positive and is excluded: mean = (2.5 + 1.5) / 4 = 1.0 (not / 5 = 0.8).
    const e = tf.tensor2d([[0], [1], [3], [7], [10]]);
    const l = tf.tensor1d([0, 0, 1, 1, 2], 'int32');
    expect(scalarWithoutLeak(() => batchHardTripletLoss(e, l, 0.5))).toBeCloseTo(1.0, 5);
    tf.dispose([e, l]);
  });

  it('is 0 with finite gradients when no anchor is valid or embeddings coincide', () => {
    const e = tf.tensor2d([[1, 1], [1, 1], [1, 1], [1, 1]]);
    const oneIdentity = tf.tensor1d([3, 3, 3, 3], 'int32');
    expect(scalarWithoutLeak(() => batchHardTripletLoss(e, oneIdentity, 0.5))).toBe(0);
    const twoIdentities = tf.tensor1d([0, 0, 1, 1], 'int32');
    // All distances ~0: every anchor has gap 0 - 0 + 0.5 -> loss 0.5.
    expect(scalarWithoutLeak(() => batchHardTripletLoss(e, twoIdentities, 0.5))).toBeCloseTo(0.5, 5);
    const g = tf.grad((x: tf.Tensor) => batchHardTripletLoss(x as tf.Tensor2D, twoIdentities, 0.5))(e);
    expect(allFinite(g)).toBe(true);
    tf.dispose([e, oneIdentity, twoIdentities, g]);
  });
});

describe('npairLoss', () => {
  // Rows (partners 0<->1, 2<->3), normalised inside: u0 = (1, 0), u1 = (0, 1), u2 = (1, 1)/sqrt2, u3 = (-1, 1)/sqrt2.
  // cos: c01 = 0, c02 = 1/sqrt2, c03 = -1/sqrt2, c12 = 1/sqrt2, c13 = 1/sqrt2, c23 = 0. With scale 2, s = 2/sqrt2 = sqrt2:
  //   row 0 -> 1: logits [0, s, -s], CE = log(1 + e^s + e^-s)
  //   row 1 -> 0: logits [0, s, s],  CE = log(1 + 2 e^s)
  //   row 2 -> 3: logits [s, s, 0] (target 0), CE = log(2 e^s + 1)
  //   row 3 -> 2: logits [-s, s, 0] (target 0), CE = log(e^-s + e^s + 1)
  const s = Math.SQRT2;
  const expected = (2 * Math.log(1 + Math.exp(s) + Math.exp(-s)) + 2 * Math.log(1 + 2 * Math.exp(s))) / 4;
  const emb = (): tf.Tensor2D => tf.tensor2d([[2, 0], [0, 3], [1, 1], [-1, 1]]);

  it('matches the hand-computed value with a numeric scale', () => {
    const e = emb();
    expect(scalarWithoutLeak(() => npairLoss(e, 2))).toBeCloseTo(expected, 5);
    e.dispose();
  });

  it('masks each row itself out: identical partners at scale 1 give log(e + 2) - 1', () => {
    // u0 = u1 = (1, 0), u2 = u3 = (0, 1): each row sees [1 (partner), 0, 0] -> -log(e / (e + 2)).
    const e = tf.tensor2d([[1, 0], [1, 0], [0, 1], [0, 1]]);
    expect(scalarWithoutLeak(() => npairLoss(e, 1))).toBeCloseTo(Math.log(Math.E + 2) - 1, 5);
    e.dispose();
  });

  it('trains a tf.Variable scale: finite gradients for the scale and the embeddings', () => {
    const e = emb();
    const scale = tf.variable(tf.scalar(2), true, 'npair_scale_test');
    const { value, grads } = tf.variableGrads(() => npairLoss(e, scale), [scale]);
    expect(value.dataSync()[0]).toBeCloseTo(expected, 5);
    const gScale = grads[scale.name];
    expect(allFinite(gScale)).toBe(true);
    expect(gScale.dataSync()[0]).not.toBe(0);
    const gEmb = tf.grad((x: tf.Tensor) => npairLoss(x as tf.Tensor2D, scale))(e);
    expect(allFinite(gEmb)).toBe(true);
    tf.dispose([e, scale, value, gScale, gEmb]);
  });

  it('rejects an odd number of rows', () => {
    const e = tf.tensor2d([[1, 0], [0, 1], [1, 1]]);
    expect(() => npairLoss(e, 1)).toThrow(/even number/);
    e.dispose();
  });
});

describe('cosFaceLoss', () => {
  // Embeddings (normalised inside): u0 = (1, 0), u1 = (0, 1). Proxies: w0 = (1, 0), w1 = (0, 1), w2 = (-1, 0).
  // Classes [0, 2], scale 2, margin 0.5:
  //   row 0, true class 0: cos = [1, 0, -1] -> logits 2 * [1 - 0.5, 0, -1] = [1, 0, -2]; CE = log(e + 1 + e^-2) - 1
  //   row 1, true class 2: cos = [0, 1, 0]  -> logits 2 * [0, 1, 0 - 0.5] = [0, 2, -1]; CE = log(1 + e^2 + e^-1) + 1
  const expected = (Math.log(Math.E + 1 + Math.exp(-2)) - 1 + Math.log(1 + Math.exp(2) + Math.exp(-1)) + 1) / 2;

  it('matches the hand-computed value, margin on the true class only, inputs and proxies normalised', () => {
    const e = tf.tensor2d([[3, 0], [0, 0.5]]);
    const w = tf.tensor2d([[2, 0], [0, 1], [-4, 0]]);
    const c = tf.tensor1d([0, 2], 'int32');
    expect(scalarWithoutLeak(() => cosFaceLoss(e, w, c, 2, 0.5))).toBeCloseTo(expected, 5);
    tf.dispose([e, w, c]);
  });

  it('with margin 0 is the plain normalised softmax (NormFace) cross-entropy', () => {
    const e = tf.tensor2d([[1, 0]]);
    const w = tf.tensor2d([[1, 0], [0, 1]]);
    const c = tf.tensor1d([0], 'int32');
    // logits [1, 0] -> CE = log(e + 1) - 1
    expect(scalarWithoutLeak(() => cosFaceLoss(e, w, c, 1, 0))).toBeCloseTo(Math.log(Math.E + 1) - 1, 5);
    tf.dispose([e, w, c]);
  });

  it('gives finite, non-zero gradients to the embeddings and to a tf.Variable of proxies', () => {
    const e = tf.tensor2d([[1, 0.2], [0.3, 1]]);
    const w = tf.variable(tf.tensor2d([[1, 0.1], [0.1, 1], [-1, 0]]), true, 'cosface_proxies_test');
    const c = tf.tensor1d([0, 1], 'int32');
    const { value, grads } = tf.variableGrads(() => cosFaceLoss(e, w, c, 8, 0.2), [w]);
    expect(Number.isFinite(value.dataSync()[0])).toBe(true);
    expect(allFinite(grads[w.name]!)).toBe(true);
    expect(values(grads[w.name]!).some((g) => g !== 0)).toBe(true);
    const gEmb = tf.grad((x: tf.Tensor) => cosFaceLoss(x as tf.Tensor2D, w, c, 8, 0.2))(e);
    expect(allFinite(gEmb)).toBe(true);
    tf.dispose([e, w, c, value, grads[w.name]!, gEmb]);
  });

  it('rejects proxies of another dimension', () => {
    const e = tf.tensor2d([[1, 0]]);
    const w = tf.tensor2d([[1, 0, 0]]);
    const c = tf.tensor1d([0], 'int32');
    expect(() => cosFaceLoss(e, w, c, 1, 0)).toThrow(/dimensions/);
    tf.dispose([e, w, c]);
  });
});
