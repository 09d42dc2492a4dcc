/**
 * The shared command line of `npm run index` and `npm run reindex` (src/cli/*.ts are thin
 * wrappers). Prints ONE summary line on stdout and exits 0, or prints `error [CODE]: …` on
 * stderr and exits non-zero (75 when another run holds the lock, so cron wrappers can tell
 * "try later" from "broken"); CURRENT is untouched on failure.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { parseNonNegativeInteger, parsePositiveInteger, parseUnitInterval } from './common.js';
import { parseBackendPreference } from '../model/backend.js';
import { ModelLoadError } from '../model/io.js';
import { IndexError } from '../index/errors.js';
import { DEFAULT_HNSW_PARAMS } from '../index/hnsw.js';
import { openEmbedder, type Embedder } from '../embedding/index.js';
import { DEFAULT_MAX_DELETED_FRACTION } from '../index/plan.js';
import { createProgress } from '../index/progress.js';
import { DEFAULT_KEEP, formatSummary } from '../index/reindex.js';
import { openStore, STORE_KINDS, type StoreKind } from '../index/open-store.js';
import type { StoreLog } from '../index/local-store.js';
import { GalleryStore } from '../index/store.js';
import { defaultIndexDir } from '../api/config/index.js';
import { isObjectUri } from '../storage/location.js';
import { localModelDir } from '../storage/mirror.js';
import { DEFAULT_LIMIT_INPUT_PIXELS, type PreprocessOptions } from '../data/preprocess.js';

export const EXIT_LOCKED = 75;

interface Flags {
  model: string;
  gallery: string;
  out?: string;
  force?: boolean;
  store?: string;
  vectorStore: StoreKind;
  databaseUrl?: string;
  pgSchema?: string;
  workers: number;
  batchSize: number;
  m?: number;
  efConstruction?: number;
  ef?: number;
  seed?: number;
  keep: number;
  maxDeleted: number;
  rebuild?: boolean;
  backend?: string;
  maxInputPixels?: number;
  progress: boolean;
}

/** Default worker count: one per core when there is more than one (wasm is single-threaded). */
export function defaultWorkers(): number {
  const cores = availableParallelism();
  return cores > 1 ? cores : 0;
}

/**
 * @example
 * await indexProgram('reindex').parseAsync(process.argv);
 */
export function indexProgram(mode: 'build' | 'reindex'): Command {
  const program = new Command(mode === 'build' ? 'index' : 'reindex')
    .description(
      mode === 'build'
        ? 'Embed every gallery image and write a new index snapshot; switch index/CURRENT to it.'
        : 'Bring the index up to date: embed only added or changed images, drop removed ones, write a new snapshot, switch CURRENT.',
    )
    .requiredOption('--model <dir>', 'trained model directory (model.json, weights.bin, model-card.json), or s3://bucket/prefix')
    .requiredOption('--gallery <dir>', 'gallery folder: one subfolder of images per identity (or s3://bucket/prefix, one prefix per identity)')
    .option('--out <dir>', 'index folder (snapshots + CURRENT) or s3://bucket/prefix; default index/<model folder name>, the folder the server reads for that model')
    .option('--store <dir>', 'gallery store (API enrolments and deletions), a folder or s3://bucket/prefix; default <gallery>/.twinsearch')
    .addOption(new Option('--vector-store <kind>', 'where the vectors live: local snapshots in --out, or Postgres + pgvector').choices(STORE_KINDS).env('VECTOR_STORE').default('local'))
    .addOption(new Option('--database-url <url>', 'pgvector: postgres://user:password@host:5432/database').env('DATABASE_URL'))
    .addOption(new Option('--pg-schema <name>', 'pgvector: the Postgres schema of the store (default twinsearch)').env('PG_SCHEMA'))
    .option('--workers <n>', 'embedding worker threads (0 = main thread)', parseNonNegativeInteger, defaultWorkers())
    .option('--batch-size <n>', 'images per forward pass', parsePositiveInteger, 64)
    .option('--m <n>', `HNSW graph degree M (default: previous snapshot's, else ${DEFAULT_HNSW_PARAMS.M})`, parsePositiveInteger)
    .option('--ef-construction <n>', `HNSW efConstruction (default: previous, else ${DEFAULT_HNSW_PARAMS.efConstruction})`, parsePositiveInteger)
    .option('--ef <n>', `search ef stored in the snapshot (default: previous, else ${DEFAULT_HNSW_PARAMS.ef})`, parsePositiveInteger)
    .option('--seed <n>', `HNSW random seed (default ${DEFAULT_HNSW_PARAMS.randomSeed})`, parseNonNegativeInteger)
    .option('--keep <n>', 'snapshots to keep (the current one always stays)', parsePositiveInteger, DEFAULT_KEEP)
    .option('--max-deleted <fraction>', 'rebuild the graph when deleted points would pass this fraction', parseUnitInterval, DEFAULT_MAX_DELETED_FRACTION)
    .addOption(new Option('--backend <name>', 'tfjs backend').choices(['auto', 'node', 'wasm', 'cpu']))
    .option('--max-input-pixels <n>', `largest image accepted, in decoded pixels (width x height; default ${DEFAULT_LIMIT_INPUT_PIXELS}): a guard against decompression bombs`, parsePositiveInteger)
    .option('--force', "replace the index of another model in --out (without it the run refuses and changes nothing)")
    .option('--no-progress', 'no progress bars (they only show on a terminal anyway)');
  if (mode === 'reindex') program.option('--rebuild', 'build a new graph even if an incremental update would do (vectors are reused)');
  program.action(async (flags: Flags) => {
    process.exitCode = await run(mode, flags);
  });
  return program;
}

async function run(mode: 'build' | 'reindex', flags: Flags): Promise<number> {
  const progress = createProgress(flags.progress && Boolean(process.stderr.isTTY));
  let embedder: Embedder | undefined;
  let close: (() => Promise<void>) | undefined;
  try {
    // The embedder decodes the gallery's images with this limit.
    const decode: PreprocessOptions = flags.maxInputPixels ? { limitInputPixels: flags.maxInputPixels } : {};
    embedder = await openEmbedder(isObjectUri(flags.model) ? await localModelDir(flags.model) : resolve(flags.model), {
      workers: flags.workers,
      batchSize: flags.batchSize,
      backend: parseBackendPreference(flags.backend),
      ...decode,
    });
    // The store reports a held lock by resolving null; its message comes through the log.
    let locked = 'another run holds the index lock';
    const log: StoreLog = {
      info: () => undefined,
      warn: (fields, message) => {
        if (typeof fields === 'object' && (fields as { code?: string }).code === 'LOCKED') locked = String((fields as { err?: string }).err ?? message);
      },
      error: () => undefined,
    };
    const { recipe } = embedder;
    const store = openStore({
      kind: flags.vectorStore,
      indexDir: flags.out !== undefined && isObjectUri(flags.out) ? flags.out : resolve(flags.out ?? defaultIndexDir(flags.model)),
      databaseUrl: flags.databaseUrl,
      schema: flags.pgSchema,
      poolMax: 2,
      gallery: new GalleryStore(flags.gallery, { storeDir: flags.store }),
      expect: { dim: recipe.dim, metric: recipe.metric },
      embedder,
      log,
      pollMs: 0,
      watch: false,
      reindex: { keep: flags.keep, maxDeletedFraction: flags.maxDeleted },
    });
    close = () => store.close();
    const summary = await store.reindex({
      mode,
      params: { M: flags.m, efConstruction: flags.efConstruction, ef: flags.ef, randomSeed: flags.seed },
      rebuild: flags.rebuild,
      replaceModel: flags.force,
      onProgress: progress.onProgress,
      onWarning: progress.warn,
    });
    if (summary === null) throw new IndexError('LOCKED', locked);
    progress.stop();
    process.stdout.write(`${formatSummary(summary)}\n`);
    return 0;
  } catch (error) {
    progress.stop();
    const code = error instanceof IndexError ? error.code : ((error as { code?: unknown }).code ?? 'FAILED');
    const message =
      error instanceof ModelLoadError && error.code === 'MODEL_NOT_FOUND'
        ? `no trained model in ${error.dir}: train one first (npm run train -- --data <gallery> --out ${error.dir})`
        : ((error as Error).message ?? String(error));
    process.stderr.write(`error [${String(code)}]: ${message}\n`);
    if (process.env.TWINSEARCH_DEBUG) process.stderr.write(`${(error as Error).stack ?? ''}\n`);
    return error instanceof IndexError && (error.code === 'LOCKED' || error.code === 'CONFLICT') ? EXIT_LOCKED : 1;
  } finally {
    await close?.().catch(() => undefined);
    await embedder?.close().catch(() => undefined);
  }
}
