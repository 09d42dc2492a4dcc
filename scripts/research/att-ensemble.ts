/**
 * Verification of an ensemble of trained towers on a gallery, scored exactly as `npm run eval -- verify`
 * scores one model (all same pairs, the same different pairs, L2 distances, leave-one-out retrieval).
 * The ensemble embedding of an image is the concatenation of each model's L2-normalised embedding,
 * divided by sqrt(models): a unit vector whose squared distances are the mean of the models' squared
 * distances. An experiment, not a servable model (index and API load one tower).
 *
 * npx tsx scripts/research/att-ensemble.ts --data ../shared/datasets/att-faces --include '^s(3[1-9]|40)$' \
 *   --models models/a,models/b [--json FILE]
 */
import { Command } from 'commander';
import { loadImages, readGallery } from '../../src/data/gallery.js';
import { selectIdentities } from '../../src/data/select.js';
import { initBackend } from '../../src/model/backend.js';
import { embedImageSetAsync } from '../../src/model/embed.js';
import { loadModel } from '../../src/model/io.js';
import { scoreVerification } from '../../src/eval/verify.js';
import { writeFileAtomic } from '../../src/util/atomic.js';

/**
 * Concatenates per-model unit embeddings (`parts[k]`: count x dims[k]) into one unit vector per image.
 *
 * @example
 * concatUnitEmbeddings([a, b], 100); // 100 x (dimA + dimB), each row of norm 1 if the parts' rows are
 */
export function concatUnitEmbeddings(parts: Float32Array[], count: number): { vectors: Float32Array; dim: number } {
  const dims = parts.map((p) => p.length / count);
  const dim = dims.reduce((a, b) => a + b, 0);
  const scale = 1 / Math.sqrt(parts.length);
  const vectors = new Float32Array(count * dim);
  for (let i = 0; i < count; i++) {
    let offset = 0;
    parts.forEach((part, k) => {
      const d = dims[k]!;
      for (let j = 0; j < d; j++) vectors[i * dim + offset + j] = part[i * d + j]! * scale;
      offset += d;
    });
  }
  return { vectors, dim };
}

export interface EnsembleResult {
  models: string[];
  identities: number;
  images: number;
  eer: number;
  auc: number;
  rank1: number;
  mapAtR: number;
}

/** Embeds the selected identities with every model (each with its own preprocessing) and scores the ensemble. */
export async function evaluateEnsemble(modelDirs: string[], dataDir: string, include?: RegExp): Promise<EnsembleResult> {
  const gallery = selectIdentities(await readGallery(dataDir), { include });
  const parts: Float32Array[] = [];
  let labels: Int32Array | undefined;
  let count = 0;
  for (const dir of modelDirs) {
    const { tower, card } = await loadModel(dir);
    const set = await loadImages(gallery, card.preprocess);
    // Always unit vectors per model, whatever the card says, so every model weighs the same; otherwise
    // embedded as the card says (with its mirror, centred), as eval and the API embed it.
    parts.push(await embedImageSetAsync(tower, set.data, set.count, set.shape, { l2Normalize: true, flipAverage: card.tower.flipAverage, center: card.tower.center }));
    tower.dispose();
    labels = set.labels;
    count = set.count;
  }
  if (!labels) throw new Error('att-ensemble: give at least one model');
  const { vectors, dim } = concatUnitEmbeddings(parts, count);
  const { scores } = scoreVerification(vectors, dim, labels);
  return { models: modelDirs, identities: gallery.identities.length, images: count, eer: scores.eer, auc: scores.auc, rank1: scores.rank1, mapAtR: scores.mapAtR };
}

async function main(argv: string[]): Promise<void> {
  const f = new Command('att-ensemble')
    .requiredOption('--data <dir>', 'gallery root')
    .option('--include <regex>', 'identities scored')
    .requiredOption('--models <list>', 'comma-separated model directories')
    .option('--json <file>', 'write the result as JSON')
    .parse(argv, { from: 'user' })
    .opts<{ data: string; include?: string; models: string; json?: string }>();
  await initBackend({ preference: 'wasm', log: () => {} });
  const result = await evaluateEnsemble(f.models.split(','), f.data, f.include ? new RegExp(f.include) : undefined);
  console.log(`${result.models.length} models, ${result.images} images: EER ${(result.eer * 100).toFixed(2)}%, rank-1 ${(result.rank1 * 100).toFixed(0)}%, AUC ${result.auc.toFixed(4)}, MAP@R ${result.mapAtR.toFixed(4)}`);
  if (f.json) await writeFileAtomic(f.json, `${JSON.stringify(result, null, 2)}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
