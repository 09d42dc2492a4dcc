/**
 * Floors for a face-verification result: the EER and rank-1 of comparing raw pixels, and of PCA
 * (eigenfaces) fitted on the training identities only, scored on the unseen identities exactly as
 * `npm run eval -- verify` scores a network (all same pairs, the same different pairs, L2 distances).
 * If the network does not beat these, it adds nothing.
 *
 * npx tsx scripts/research/att-floors.ts --data ../shared/datasets/att-faces \
 *   --train '^s([1-9]|[12][0-9]|30)$' --test '^s(3[1-9]|40)$' --input-size 32 [--json FILE]
 */
import { Command } from 'commander';
import { loadImages, readGallery, type ImageSet } from '../../src/data/gallery.js';
import { selectIdentities } from '../../src/data/select.js';
import { DEFAULT_PREPROCESS, type CropRegion, type PreprocessConfig } from '../../src/model/config.js';
import { parseCrop, parseNumberList, parseSize } from '../../src/cli/common.js';
import { l2NormalizeVector } from '../../src/model/embed.js';
import { scoreVerification } from '../../src/eval/verify.js';
import { writeFileAtomic } from '../../src/util/atomic.js';

/** Principal axes of row-major `n x dim` data: the mean and the top `k` unit axes (row-major `k x dim`) with their variances. */
export interface Pca {
  mean: Float64Array;
  axes: Float64Array;
  variances: Float64Array;
  dim: number;
  k: number;
}

/**
 * Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations (exact up to rounding; fine for
 * the few hundred rows of a face training set). Returns eigenvalues descending and eigenvectors as columns.
 */
export function symmetricEigen(matrix: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // Rotate columns p and q of a, then rows p and q (a stays symmetric).
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j]! - a[i * n + i]!);
  const values = Float64Array.from(order, (i) => a[i * n + i]!);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    for (let k = 0; k < n; k++) vectors[k * n + to] = v[k * n + from]!;
  });
  return { values, vectors };
}

/**
 * PCA of `n x dim` rows through the n x n Gram matrix (n is much smaller than dim for images).
 *
 * @example
 * const pca = fitPca(set.data, set.count, 1024, 50);
 */
export function fitPca(data: Float32Array, n: number, dim: number, k: number): Pca {
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] += data[i * dim + d]! / n;
  const centred = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) centred[i * dim + d] = data[i * dim + d]! - mean[d]!;
  const gram = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += centred[i * dim + d]! * centred[j * dim + d]!;
      gram[i * n + j] = gram[j * n + i] = sum;
    }
  }
  const { values, vectors } = symmetricEigen(gram, n);
  const kept = Math.min(k, n - 1);
  const axes = new Float64Array(kept * dim);
  for (let c = 0; c < kept; c++) {
    // Axis = X^T u / sqrt(lambda): unit length because u is an eigenvector of X X^T.
    const norm = Math.sqrt(Math.max(values[c]!, 1e-12));
    for (let i = 0; i < n; i++) {
      const u = vectors[i * n + c]! / norm;
      for (let d = 0; d < dim; d++) axes[c * dim + d] += u * centred[i * dim + d]!;
    }
  }
  return { mean, axes, variances: Float64Array.from(values.subarray(0, kept), (x) => x / Math.max(1, n - 1)), dim, k: kept };
}

/** Projects rows onto the first `k` axes; `whiten` divides each coordinate by its standard deviation. */
export function projectPca(pca: Pca, data: Float32Array, n: number, k: number, whiten: boolean): Float32Array {
  const { dim } = pca;
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let sum = 0;
      for (let d = 0; d < dim; d++) sum += (data[i * dim + d]! - pca.mean[d]!) * pca.axes[c * dim + d]!;
      out[i * k + c] = whiten ? sum / Math.sqrt(Math.max(pca.variances[c]!, 1e-12)) : sum;
    }
  }
  return out;
}

function l2NormalizeRows(vectors: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(vectors.length);
  for (let i = 0; i < n; i++) out.set(l2NormalizeVector(vectors.subarray(i * dim, (i + 1) * dim)), i * dim);
  return out;
}

/** EER and retrieval scores of vectors, scored as `npm run eval -- verify` scores a network. */
function score(vectors: Float32Array, dim: number, set: ImageSet): { eer: number; auc: number; rank1: number; mapAtR: number } {
  const { scores } = scoreVerification(vectors, dim, set.labels);
  return { eer: scores.eer, auc: scores.auc, rank1: scores.rank1, mapAtR: scores.mapAtR };
}

export interface FloorRow {
  method: string;
  eer: number;
  auc: number;
  rank1: number;
  mapAtR: number;
}

/** Scores raw pixels and PCA variants (fitted on `train`) on `test`. */
export function floors(train: ImageSet, test: ImageSet, components: number[]): FloorRow[] {
  const dim = test.shape[0] * test.shape[1] * test.shape[2];
  const rows: FloorRow[] = [];
  rows.push({ method: 'raw pixels, L2', ...score(test.data, dim, test) });
  rows.push({ method: 'raw pixels, L2-normalised', ...score(l2NormalizeRows(test.data, test.count, dim), dim, test) });
  const pca = fitPca(train.data, train.count, dim, Math.max(...components));
  for (const k of components.filter((c) => c <= pca.k)) {
    rows.push({ method: `PCA ${k}, L2`, ...score(projectPca(pca, test.data, test.count, k, false), k, test) });
    for (const whiten of [false, true]) {
      const projected = l2NormalizeRows(projectPca(pca, test.data, test.count, k, whiten), test.count, k);
      rows.push({ method: `PCA ${k}${whiten ? ' whitened' : ''}, L2-normalised`, ...score(projected, k, test) });
    }
  }
  return rows;
}

async function main(argv: string[]): Promise<void> {
  const f = new Command('att-floors')
    .requiredOption('--data <dir>', 'gallery root')
    .requiredOption('--train <regex>', 'identities PCA is fitted on')
    .requiredOption('--test <regex>', 'identities scored')
    .option('--input-size <WxH>', 'input size: 32 or WIDTHxHEIGHT', parseSize, [32, 32] as [number, number])
    .option('--standardize', 'per-image standardisation (as --standardize in training)', false)
    .option('--crop <l,t,w,h>', 'crop before resizing, fractions (as --crop in training)', parseCrop)
    .option('--components <list>', 'PCA sizes', parseNumberList, [16, 32, 64, 128])
    .option('--json <file>', 'write the rows as JSON')
    .parse(argv, { from: 'user' })
    .opts<{ data: string; train: string; test: string; inputSize: [number, number]; standardize: boolean; crop?: CropRegion; components: number[]; json?: string }>();
  const [w, h] = f.inputSize;
  const pre: PreprocessConfig = { ...DEFAULT_PREPROCESS, width: w, height: h, standardize: f.standardize, ...(f.crop ? { crop: f.crop } : {}) };
  const gallery = await readGallery(f.data);
  const train = await loadImages(selectIdentities(gallery, { include: new RegExp(f.train) }), pre);
  const test = await loadImages(selectIdentities(gallery, { include: new RegExp(f.test) }), pre);
  const rows = floors(train, test, f.components);
  console.log(`${train.count} training images, ${test.count} test images, ${w}x${h}${f.standardize ? ', standardised' : ''}${f.crop ? `, crop ${JSON.stringify(f.crop)}` : ''}`);
  for (const r of rows) {
    console.log(`${r.method.padEnd(34)} EER ${(r.eer * 100).toFixed(1)}%  rank-1 ${(r.rank1 * 100).toFixed(0)}%  AUC ${r.auc.toFixed(3)}  MAP@R ${r.mapAtR.toFixed(3)}`);
  }
  if (f.json) await writeFileAtomic(f.json, `${JSON.stringify({ inputSize: [w, h], standardize: f.standardize, crop: pre.crop, rows }, null, 2)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
