/**
 * Metric-learning losses on embedding tensors. All are differentiable, return a scalar (or a
 * distance tensor) and clean up their intermediates with `tf.tidy`, so they can be called inside
 * `optimizer.minimize` or `tf.variableGrads`.
 *
 * Label convention for pair losses: `same` = 1 for a pair of the same identity, 0 otherwise.
 */
import * as tf from '@tensorflow/tfjs';
import { l2NormalizeRows } from './embed.js';

/** Added under square roots so distances of identical embeddings have finite gradients. */
export const DISTANCE_EPSILON = 1e-12;

/**
 * Euclidean distance between matching rows: d_i = sqrt(sum_k (a_ik - b_ik)^2 + epsilon).
 * The epsilon keeps the gradient finite (zero) when a_i = b_i; it adds at most sqrt(epsilon) = 1e-6.
 *
 * @example
 * pairDistance(tf.tensor2d([[0, 0]]), tf.tensor2d([[3, 4]])); // [5]
 */
export function pairDistance(ea: tf.Tensor2D, eb: tf.Tensor2D, epsilon = DISTANCE_EPSILON): tf.Tensor1D {
  return tf.tidy(() => tf.sqrt(tf.add(tf.sum(tf.squaredDifference(ea, eb), 1), epsilon)) as tf.Tensor1D);
}

/**
 * Contrastive loss of Hadsell, Chopra & LeCun (2006), halved as in the paper:
 *
 *   L = mean_i( same_i * d_i^2 / 2 + (1 - same_i) * max(0, margin - d_i)^2 / 2 )
 *
 * Same pairs are pulled together; different pairs are pushed apart until they are `margin` away,
 * and then left alone (the hinge). Hadsell et al. write Y = 0 for similar pairs; here `same` = 1 - Y.
 *
 * @param d - pair distances [n] (see {@link pairDistance})
 * @param same - 1 for same-identity pairs, 0 otherwise [n] (float)
 * @example
 * contrastiveLoss(tf.tensor1d([0.5, 0.5]), tf.tensor1d([1, 0]), 1); // mean(0.125, 0.125) = 0.125
 */
export function contrastiveLoss(d: tf.Tensor1D, same: tf.Tensor1D, margin: number): tf.Scalar {
  return tf.tidy(() => {
    const s = tf.cast(same, 'float32');
    const pull = tf.mul(s, tf.square(d));
    const push = tf.mul(tf.sub(1, s), tf.square(tf.relu(tf.sub(margin, d))));
    return tf.mean(tf.div(tf.add(pull, push), 2)) as tf.Scalar;
  });
}

/**
 * The original write-up's plain Euclidean pair loss, a regression of the distance onto a target
 * (0 for same pairs, `margin` for different pairs), with no hinge and no halving:
 *
 *   L = mean_i( same_i * d_i^2 + (1 - same_i) * (margin - d_i)^2 )
 *
 * Unlike {@link contrastiveLoss}, different pairs farther apart than `margin` are pulled back in.
 *
 * @example
 * euclideanPairLoss(tf.tensor1d([0.5, 2]), tf.tensor1d([1, 0]), 1); // mean(0.25, 1) = 0.625
 */
export function euclideanPairLoss(d: tf.Tensor1D, same: tf.Tensor1D, margin: number): tf.Scalar {
  return tf.tidy(() => {
    const s = tf.cast(same, 'float32');
    const pull = tf.mul(s, tf.square(d));
    const push = tf.mul(tf.sub(1, s), tf.square(tf.sub(margin, d)));
    return tf.mean(tf.add(pull, push)) as tf.Scalar;
  });
}

/**
 * All-pairs Euclidean distance matrix [n, n] of the rows of `emb`, from
 * |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, clamped at 0 against rounding, with epsilon under the square
 * root (finite gradients) and an exact zero diagonal.
 *
 * @example
 * pairwiseDistances(tf.tensor2d([[0, 0], [3, 4]])); // [[0, 5], [5, 0]]
 */
export function pairwiseDistances(emb: tf.Tensor2D, epsilon = DISTANCE_EPSILON): tf.Tensor2D {
  return tf.tidy(() => {
    const n = emb.shape[0];
    const squaredNorms = tf.sum(tf.square(emb), 1, true); // [n, 1]
    const gram = tf.matMul(emb, emb, false, true); // [n, n]
    const squared = tf.relu(tf.sub(tf.add(squaredNorms, tf.transpose(squaredNorms)), tf.mul(gram, 2)));
    const offDiagonal = tf.sub(1, tf.eye(n));
    return tf.mul(tf.sqrt(tf.add(squared, epsilon)), offDiagonal) as tf.Tensor2D;
  });
}

export interface TripletOptions {
  /**
   * Soft-margin variant: softplus(dPos - dNeg + margin) instead of the hinge max(0, ...).
   * Hermans et al.'s soft margin is this with margin 0.
   */
  soft?: boolean;
}

/**
 * Batch-hard triplet loss (Hermans, Beyer & Leibe 2017) for a P x K batch. For each anchor i:
 *   dPos_i = max over j != i with labels_j = labels_i of d_ij   (hardest positive)
 *   dNeg_i = min over j with labels_j != labels_i of d_ij       (hardest negative)
 *   L = mean over valid anchors of max(0, dPos_i - dNeg_i + margin)
 * Anchors with no positive or no negative in the batch are left out of the mean (0 if none is valid).
 *
 * @param labels - identity of each row, int32 [n]
 * @example
 * batchHardTripletLoss(emb, tf.tensor1d([0, 0, 1, 1], 'int32'), 0.2);
 */
export function batchHardTripletLoss(emb: tf.Tensor2D, labels: tf.Tensor1D, margin: number, options: TripletOptions = {}): tf.Scalar {
  return tf.tidy(() => {
    const n = emb.shape[0];
    const d = pairwiseDistances(emb);
    const sameLabel = tf.cast(tf.equal(tf.expandDims(labels, 1), tf.expandDims(labels, 0)), 'float32');
    const positives = tf.mul(sameLabel, tf.sub(1, tf.eye(n)));
    const negatives = tf.sub(1, sameLabel);

    // Distances are >= 0, so masked-out entries (0) never beat a real positive.
    const hardestPositive = tf.max(tf.mul(d, positives), 1);
    // Lift non-negatives above every real distance so the min picks a negative when there is one.
    const lift = tf.add(tf.max(d), 1);
    const hardestNegative = tf.min(tf.add(d, tf.mul(tf.sub(1, negatives), lift)), 1);

    const gap = tf.add(tf.sub(hardestPositive, hardestNegative), margin);
    const perAnchor = options.soft ? tf.softplus(gap) : tf.relu(gap);
    const valid = tf.mul(tf.max(positives, 1), tf.max(negatives, 1));
    return tf.div(tf.sum(tf.mul(perAnchor, valid)), tf.maximum(tf.sum(valid), 1)) as tf.Scalar;
  });
}

/**
 * N-pair / softmax loss over scaled cosine similarities (Sohn 2016, in the multi-class form used by
 * prototypical and NT-Xent style training). Rows come in partner pairs [a0, b0, a1, b1, ...]; each
 * row's target is its partner, against every other row in the batch:
 *   logits_ij = scale * cos(e_i, e_j) for j != i (self masked out)
 *   L = mean_i( -log softmax_j(logits_i)[partner(i)] ), partner(2k) = 2k + 1, partner(2k + 1) = 2k
 * Rows are L2-normalised here, so un-normalised input is fine. `scale` may be a trainable
 * `tf.Variable` (a learnable temperature); its gradient flows.
 *
 * @example
 * const scale = tf.variable(tf.scalar(25));
 * npairLoss(embeddings, scale); // embeddings: [2P, D] in partner order
 */
export function npairLoss(emb: tf.Tensor2D, scale: tf.Scalar | number): tf.Scalar {
  const n = emb.shape[0];
  if (n < 2 || n % 2 !== 0) throw new Error(`npairLoss needs an even number (>= 2) of rows in partner order, got ${n}`);
  return tf.tidy(() => {
    const unit = l2NormalizeRows(emb);
    const cosine = tf.matMul(unit, unit, false, true);
    // A large negative instead of -Infinity: softmax gives it weight 0 without 0 * Infinity = NaN.
    const logits = tf.sub(tf.mul(cosine, scale), tf.mul(tf.eye(n), 1e9));
    const partners = tf.tensor1d(Array.from({ length: n }, (_, i) => i ^ 1), 'int32');
    const targets = tf.oneHot(partners, n);
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/**
 * Large-margin cosine loss (CosFace, Wang et al. 2018; the same as AM-softmax): a softmax classifier
 * over the training identities whose weight rows ("proxies", one per identity) and inputs are both
 * L2-normalised, with `margin` taken off the true identity's cosine before scaling:
 *
 *   L = mean_i( -log softmax_j( scale * (cos(e_i, w_j) - margin * [j = y_i]) )[y_i] )
 *
 * The proxies are trained with the tower and thrown away afterwards: only the tower is the model, so
 * it still embeds identities it never saw. Proxy losses learn from every identity at every step,
 * where a pair or triplet sees a few (Musgrave et al. 2020 compare them).
 *
 * @param emb - embeddings [n, D] (L2-normalised here)
 * @param proxies - one row per training identity [C, D] (L2-normalised here)
 * @param classes - row of `proxies` each embedding belongs to [n] (int32)
 * @example
 * const proxies = tf.variable(tf.randomNormal([24, 32]));
 * cosFaceLoss(embeddings, proxies, tf.tensor1d(batchClasses, 'int32'), 16, 0.2);
 */
export function cosFaceLoss(emb: tf.Tensor2D, proxies: tf.Tensor2D, classes: tf.Tensor1D, scale: number, margin: number): tf.Scalar {
  if (emb.shape[1] !== proxies.shape[1]) throw new Error(`cosFaceLoss: embeddings have ${emb.shape[1]} dimensions, proxies ${proxies.shape[1]}`);
  return tf.tidy(() => {
    const cosine = tf.matMul(l2NormalizeRows(emb), l2NormalizeRows(proxies), false, true);
    const targets = tf.oneHot(tf.cast(classes, 'int32'), proxies.shape[0]);
    const logits = tf.mul(tf.sub(cosine, tf.mul(targets, margin)), scale);
    return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}
