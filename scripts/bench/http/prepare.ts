/**
 * What the HTTP and cold-start benchmarks serve: a model, a gallery of PNGs, query images, a verified
 * index and a wrangler config, all cached in the work folder between runs.
 *
 * Gallery: Fashion-MNIST (Debian dataset-fashion-mnist) as 28x28 PNGs, 10 per identity; past its
 * 70,000 images, mirrored copies. Queries: 64 other Fashion-MNIST images. Model: models/sample (what
 * `npm start` trains) if present, else a random-weight conv4 tower of the same architecture (same speed).
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { openEmbedder } from '../../../src/embedding/index.js';
import { openSnapshot } from '../../../src/index/live-snapshot.js';
import { runIndex } from '../../../src/index/reindex.js';
import { GalleryStore } from '../../../src/index/store.js';
import { syntheticPng, writeTinyModel } from '../../../test/fixtures/gallery.js';
import { parseModelCard } from '../../../src/model/card.js';
import { MODEL_CARD_FILE } from '../../../src/model/io.js';
import { REPO_ROOT, writeWranglerConfig } from '../../server/config.js';
import { fashionMnist, randomModel } from '../data.js';
import { KEY, type ApiBenchOptions, type QueryKind } from './types.js';

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

/** Gallery PNGs (cached) and query images that are not in the gallery. */
async function prepareImages(o: ApiBenchOptions): Promise<{ gallery: string; queries: Record<QueryKind, Buffer[]>; source: string }> {
  const queryCount = 64;
  const source = o.tiny ? 'synthetic 28x28 PNGs' : 'Fashion-MNIST 28x28 PNGs';
  const gallery = join(o.work, `gallery-${o.images}${o.tiny ? '-tiny' : ''}`);
  const marker = join(gallery, '.complete');
  let image: (i: number) => Promise<Buffer>;
  if (o.tiny) image = (i) => syntheticPng(i);
  else {
    const { images, count } = await fashionMnist(o.images + queryCount);
    // Fashion-MNIST has 70,000 images: beyond that, galleries reuse them mirrored (other bytes, other vectors).
    image = (i) => {
      const row = i % count;
      const picture = sharp(Buffer.from(images.subarray(row * 784, (row + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } });
      return (Math.floor(i / count) % 2 === 1 ? picture.flop() : picture).png().toBuffer();
    };
  }
  if (!(await exists(marker))) {
    o.log?.(`writing ${o.images} gallery PNGs to ${gallery}`);
    for (let i = 0; i < o.images; i++) {
      const dir = join(gallery, `p${String(Math.floor(i / 10)).padStart(5, '0')}`);
      if (i % 10 === 0) await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${i % 10}.png`), await image(i));
    }
    await writeFile(marker, '');
  }
  const png28 = await Promise.all(Array.from({ length: queryCount }, (_, q) => image(o.images + q)));
  // The same pictures as a phone would send them: large JPEGs that must be decoded and shrunk.
  const photo = await Promise.all(png28.map((png) => sharp(png).resize(640, 480, { fit: 'fill', kernel: 'lanczos3' }).jpeg({ quality: 90 }).toBuffer()));
  return { gallery, queries: { png28, photo }, source };
}

/** The benchmark's model (cached in the work folder): --model, the tiny smoke model, models/sample, else a random conv4. */
export async function prepareModel(o: Pick<ApiBenchOptions, 'model' | 'tiny' | 'work'>): Promise<{ dir: string; source: string }> {
  if (o.model) return { dir: resolve(o.model), source: o.model };
  if (o.tiny) {
    const dir = join(o.work, 'model-tiny');
    if (!(await exists(join(dir, MODEL_CARD_FILE)))) await writeTinyModel(dir);
    return { dir, source: 'tiny random conv4 (smoke test)' };
  }
  const sample = join(REPO_ROOT, 'models', 'sample');
  if (await exists(join(sample, MODEL_CARD_FILE))) return { dir: sample, source: 'models/sample (trained by npm start)' };
  const dir = join(o.work, 'model-random');
  if (!(await exists(join(dir, MODEL_CARD_FILE)))) await randomModel(dir);
  return { dir, source: 'random-weight conv4 28x28 (same architecture and speed as the sample model)' };
}

/** Builds the index unless a verified one for this model exists. */
async function prepareIndex(o: ApiBenchOptions, modelDir: string, gallery: string): Promise<{ dir: string; version: string; M: number; ef: number }> {
  const card = parseModelCard(await readFile(join(modelDir, MODEL_CARD_FILE), 'utf8'));
  const dir = join(o.work, `index-${o.images}${o.tiny ? '-tiny' : ''}-${card.modelId}`);
  const expect = { dim: card.embeddingSize, metric: card.metric, modelId: card.modelId };
  const opened = async () => {
    const index = await openSnapshot(dir, { expect });
    return { dir, version: index.version, M: index.stats().M, ef: index.stats().ef };
  };
  try {
    return await opened();
  } catch {
    o.log?.(`building the index in ${dir}`);
    const embedder = await openEmbedder(modelDir, { workers: o.tiny ? 0 : 2 });
    try {
      await runIndex({ indexDir: dir, store: new GalleryStore(gallery), embedder, mode: 'build' });
    } finally {
      await embedder.close();
    }
    return opened();
  }
}

/** What a server run needs: model, gallery and query images, a verified index and a wrangler config. */
export interface PreparedApiBench {
  model: { dir: string; source: string };
  card: ReturnType<typeof parseModelCard>;
  gallery: string;
  queries: Record<QueryKind, Buffer[]>;
  source: string;
  index: { dir: string; version: string; M: number; ef: number };
  vars: Record<string, string>;
  config: string;
}

/**
 * Model, gallery, queries and index (all cached in `o.work`) and the server's wrangler config.
 *
 * @example
 * const p = await prepareApiBench({ images: 10_000, duration: 0, connections: [], workers: [0], coldStarts: 1, work: 'tmp/api-bench' });
 */
export async function prepareApiBench(o: ApiBenchOptions): Promise<PreparedApiBench> {
  await mkdir(o.work, { recursive: true });
  const model = await prepareModel(o);
  const card = parseModelCard(await readFile(join(model.dir, MODEL_CARD_FILE), 'utf8'));
  const { gallery, queries, source } = await prepareImages(o);
  const index = await prepareIndex(o, model.dir, gallery);
  const vars = { MODEL_DIR: model.dir, INDEX_DIR: index.dir, GALLERY_DIR: gallery, LOG_LEVEL: 'warn', WATCH_INDEX: 'false', RELOAD_POLL_MS: '0' };
  const config = await writeWranglerConfig(join(o.work, 'server'), 'twinsearch-bench', vars, { API_KEYS: KEY });
  return { model, card, gallery, queries, source, index, vars, config };
}
