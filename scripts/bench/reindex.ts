/**
 * `npm run bench -- reindex`: re-index after changing 1% of a gallery vs a full build of it. Writes
 * bench/results/reindex.{json,md}.
 *
 *   npm run bench -- reindex [--images 10000] [--change 0.01] [--workers 2] [--model DIR] [--seed 1]
 *
 * The gallery is written to a temp folder as PNGs of Fashion-MNIST images, 10 per identity.
 * Measured in one process with one embedder (worker start-up excluded from both sides):
 * a full build; a re-index with nothing changed; then 1% of the images changed (60% of them
 * rewritten with other pictures, 20% added, 20% removed) and a re-index; plus the cost of
 * listing the gallery with a cold and a warm hash cache.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { parseNonNegativeInteger, parsePositiveInteger } from '../../src/cli/common.js';
import { createRng } from '../../src/data/rng.js';
import { openEmbedder } from '../../src/embedding/index.js';
import { formatSummary, runIndex, type IndexRunSummary } from '../../src/index/reindex.js';
import { GalleryStore, HASH_CACHE_FILE } from '../../src/index/store.js';
import { syntheticPng, writeTinyModel } from '../../test/fixtures/gallery.js';
import { table, writeResults } from './common.js';
import { RESULTS_DIR, sectionContext, sectionHeader, suiteCommand, type SectionContext } from './context.js';
import { fashionMnist, randomModel } from './data.js';

export interface ReindexBenchOptions {
  modelDir?: string;
  images: number;
  change: number;
  workers: number;
  seed: number;
  /** Smoke runs: synthetic PNGs and a tiny tower instead of Fashion-MNIST and conv4. */
  tiny?: boolean;
  log?: (line: string) => void;
}

type RunRow = Pick<IndexRunSummary, 'mode' | 'added' | 'changed' | 'removed' | 'unchanged' | 'embedded' | 'seconds' | 'timings'>;

export interface ReindexBenchResult {
  images: number;
  identities: number;
  modelId: string;
  workers: number;
  full: RunRow;
  noChange: RunRow;
  changed: RunRow;
  /** changed.seconds / full.seconds */
  ratio: number;
  listing: { coldSeconds: number; warmSeconds: number };
}

const pick = (s: IndexRunSummary): RunRow => ({ mode: s.mode, added: s.added, changed: s.changed, removed: s.removed, unchanged: s.unchanged, embedded: s.embedded, seconds: s.seconds, timings: s.timings });

async function png(raw: Uint8Array): Promise<Buffer> {
  return sharp(Buffer.from(raw), { raw: { width: 28, height: 28, channels: 1 } }).png().toBuffer();
}

/**
 * @example
 * const r = await runReindexBench({ images: 10_000, change: 0.01, workers: 2, seed: 1 });
 * r.ratio; // e.g. 0.03
 */
export async function runReindexBench(o: ReindexBenchOptions): Promise<ReindexBenchResult> {
  const log = o.log ?? (() => {});
  const work = await mkdtemp(join(tmpdir(), 'bench-reindex-'));
  try {
    const root = join(work, 'gallery');
    const changes = Math.max(3, Math.round(o.images * o.change));
    const spareCount = changes;
    // Image i of the gallery, and spare images for rewrites and additions.
    let image: (i: number) => Promise<Buffer>;
    if (o.tiny) image = (i) => syntheticPng(i, 28);
    else {
      const { images } = await fashionMnist(o.images + spareCount);
      image = (i) => png(images.subarray(i * 784, (i + 1) * 784));
    }
    log(`writing ${o.images} PNGs`);
    const files: string[] = [];
    for (let i = 0; i < o.images; i++) {
      const dir = join(root, `p${String(Math.floor(i / 10)).padStart(5, '0')}`);
      if (i % 10 === 0) await mkdir(dir, { recursive: true });
      const file = join(dir, `${i % 10}.png`);
      await writeFile(file, await image(i));
      files.push(file);
    }
    const modelDir = o.modelDir ?? (o.tiny ? join(work, 'model') : await randomModel(join(work, 'model')));
    if (o.tiny && !o.modelDir) await writeTinyModel(modelDir);
    const embedder = await openEmbedder(modelDir, { workers: o.workers, backend: 'wasm' });
    const store = new GalleryStore(root);
    const indexDir = join(work, 'index');
    try {
      log('full build');
      const full = await runIndex({ indexDir, store, embedder, mode: 'build' });
      log(formatSummary(full));
      const noChange = await runIndex({ indexDir, store, embedder, mode: 'reindex' });
      log(formatSummary(noChange));

      // Change 1%: 60% rewritten with unseen pictures, 20% added, 20% removed.
      const rng = createRng(o.seed);
      const order = rng.shuffle(files.map((_, i) => i));
      const rewrite = Math.round(changes * 0.6);
      const add = Math.round(changes * 0.2);
      const remove = changes - rewrite - add;
      for (let j = 0; j < rewrite; j++) await writeFile(files[order[j]], await image(o.images + j));
      for (let j = 0; j < add; j++) await writeFile(join(root, 'p00000', `new-${j}.png`), await image(o.images + rewrite + j));
      for (let j = 0; j < remove; j++) await rm(files[order[rewrite + j]]);
      const changed = await runIndex({ indexDir, store, embedder, mode: 'reindex' });
      log(formatSummary(changed));

      await rm(join(store.dir, HASH_CACHE_FILE));
      let started = performance.now();
      await store.listGalleryEntries();
      const coldSeconds = (performance.now() - started) / 1000;
      started = performance.now();
      await store.listGalleryEntries();
      const warmSeconds = (performance.now() - started) / 1000;

      return {
        images: o.images,
        identities: (await readdir(root)).filter((d) => !d.startsWith('.')).length,
        modelId: embedder.recipe.modelId,
        workers: o.workers,
        full: pick(full),
        noChange: pick(noChange),
        changed: pick(changed),
        ratio: changed.seconds / full.seconds,
        listing: { coldSeconds, warmSeconds },
      };
    } finally {
      await embedder.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The markdown of a run: the suite's header, the runs side by side, and images per second.
 *
 * @example
 * reindexMarkdown(r, sectionContext('npm run bench -- reindex'));
 */
export function reindexMarkdown(r: ReindexBenchResult, context: SectionContext): string {
  const row = (name: string, x: RunRow) => ({
    run: name,
    mode: x.mode,
    added: x.added,
    changed: x.changed,
    removed: x.removed,
    embedded: x.embedded,
    'list s': x.timings.list.toFixed(2),
    'embed s': x.timings.embed.toFixed(2),
    'graph s': x.timings.graph.toFixed(2),
    'write s': x.timings.write.toFixed(2),
    'total s': x.seconds.toFixed(2),
  });
  const changes = r.changed.added + r.changed.changed + r.changed.removed;
  const share = `${Number(((changes / r.images) * 100).toFixed(1))}%`;
  const rate = (images: number, seconds: number): string => Math.round(images / seconds).toLocaleString('en-US');
  return [
    sectionHeader('reindex: full build vs 1% changed', context),
    `### Re-index vs full build: ${r.images} images, ${r.identities} identities`,
    '',
    `Model ${r.modelId}, ${r.workers} embedding worker(s). In-process runs (no process or worker start-up on either side).`,
    '',
    table([row('full build', r.full), row('re-index, nothing changed', r.noChange), row(`re-index after changing ${share}`, r.changed)]),
    '',
    `**Re-index after ${share} changed: ${(r.ratio * 100).toFixed(1)}% of the full build time** (${r.changed.seconds.toFixed(2)} s vs ${r.full.seconds.toFixed(2)} s).`,
    '',
    `Listing the gallery (stat + sha256 of every file): ${r.listing.coldSeconds.toFixed(2)} s with a cold hash cache, ${r.listing.warmSeconds.toFixed(2)} s warm.`,
    '',
    `Images/s: full build ${rate(r.full.embedded, r.full.seconds)} (embedded and indexed); re-index after ${changes.toLocaleString('en-US')} changes:`,
    `${rate(r.changed.embedded, r.changed.seconds)} embedded per second of the run, or ${rate(r.images, r.changed.seconds)} gallery images kept current per second.`,
    '',
  ].join('\n');
}

export function reindexBenchCommand(): Command {
  return new Command('reindex')
    .description('full build vs re-index after 1% of the gallery changed (images/s)')
    .option('--images <n>', 'gallery images', parsePositiveInteger, 10_000)
    .option('--change <f>', 'fraction changed', Number, 0.01)
    .option('--workers <n>', 'embedding workers', parseNonNegativeInteger, 2)
    .option('--model <dir>', 'model directory (default: a random conv4 tower, same speed)')
    .option('--seed <n>', 'seed', parseNonNegativeInteger, 1)
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { images: number; change: number; workers: number; model?: string; seed: number; out: string }) => {
      const context = sectionContext(suiteCommand('reindex'));
      const result = await runReindexBench({ ...f, modelDir: f.model, log: (l) => process.stderr.write(`${l}\n`) });
      const md = reindexMarkdown(result, context);
      await writeResults(f.out, 'reindex', { context, ...result }, md);
      process.stdout.write(`${md}\n`);
    });
}
