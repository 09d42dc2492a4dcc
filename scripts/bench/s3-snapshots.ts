/**
 * What the object-storage benchmarks share: an S3-compatible server on loopback (test/s3-server:
 * miniflare's local R2 over the S3 API), synthetic snapshots of the benchmark model's size, and
 * publishing a local snapshot into a bucket the way the index job does.
 *
 * Synthetic snapshots: clustered unit vectors at the model's dimension stand in for embeddings
 * (embedding 100,000 images and building their graph would cost minutes that tell nothing about
 * downloading, verifying and opening); the catalogue has 10 images per identity. The server
 * opens them like any snapshot of its model: same files, same checks.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { recipeFromCard } from '../../src/embedding/index.js';
import { CHECKSUMS_FILE } from '../../src/index/checksums.js';
import { HNSW_FILE, MANIFEST_FILE, VECTORS_FILE, type HnswParams } from '../../src/index/manifest.js';
import { listVersions } from '../../src/index/snapshot.js';
import { parseModelCard } from '../../src/model/card.js';
import { MODEL_CARD_FILE } from '../../src/model/io.js';
import { ObjectSnapshots } from '../../src/storage/snapshots.js';
import { startS3Server } from '../../test/fixtures/s3.js';
import { buildLocal } from './pgvector-vectors.js';
import { clusteredVectors } from './vectors.js';

export interface BenchS3 {
  /** The SDK's standard variables pointing at the server (what a serving process is given). */
  env: Record<string, string>;
  bucket: string;
  stop(): Promise<void>;
}

/**
 * The server the run uses: `given` (a test's), else one started now (stopped by `stop`). Points
 * this process's AWS SDK at it.
 *
 * @example
 * const s3 = await benchS3(); … await s3.stop();
 */
export async function benchS3(given?: { env: Record<string, string>; bucket: string }): Promise<BenchS3> {
  const server = given ? { ...given, stop: async () => undefined } : await startS3Server();
  Object.assign(process.env, server.env);
  return { env: server.env, bucket: server.bucket, stop: () => server.stop() };
}

/** Graph parameters of the synthetic snapshots: the project's defaults but a cheaper build (what is measured is loading). */
export const SYNTHETIC_PARAMS: HnswParams = { M: 16, efConstruction: 64, ef: 100, randomSeed: 100 };

export interface SyntheticSnapshot {
  /** The local index folder (the snapshots). */
  indexDir: string;
  version: string;
  /** The model's embedding dimension. */
  dim: number;
  /** Bytes of the snapshot's files. */
  bytes: number;
  /** Seconds the build took (0 when it came from the work folder's cache). */
  buildSeconds: number;
}

/**
 * `n` snapshots of `count` synthetic vectors each (snapshot i from seed i + 1, so every file
 * differs; each a successor of the one before, as a re-index makes) for the model in `modelDir`,
 * built once into `<work>/s3-index-<count>-<model id>` and reused.
 *
 * @example
 * const [first, second] = await syntheticSnapshots('tmp/api-bench', 'models/sample', 100_000, 2);
 */
export async function syntheticSnapshots(work: string, modelDir: string, count: number, n: number): Promise<SyntheticSnapshot[]> {
  const recipe = recipeFromCard(parseModelCard(await readFile(join(modelDir, MODEL_CARD_FILE), 'utf8')));
  const indexDir = join(work, `s3-index-${count}-${recipe.modelId}`);
  const built = new Map<string, number>();
  for (let i = (await listVersions(indexDir).catch(() => [])).length; i < n; i++) {
    const set = { name: `synthetic-${i + 1}`, dim: recipe.dim, vectors: clusteredVectors(count, recipe.dim, i + 1, Math.max(10, Math.round(count / 100))), queries: new Float32Array(0) };
    const b = await buildLocal(indexDir, set, SYNTHETIC_PARAMS, { id: recipe.modelId, weightsHash: recipe.weightsHash, dim: recipe.dim, metric: recipe.metric, normalized: recipe.normalized });
    built.set(b.version, b.seconds);
  }
  const versions = (await listVersions(indexDir)).sort().slice(0, n);
  return Promise.all(
    versions.map(async (version) => {
      const sizes = await Promise.all([HNSW_FILE, VECTORS_FILE, MANIFEST_FILE, CHECKSUMS_FILE].map((f) => stat(join(indexDir, version, f)).then((s) => s.size)));
      return { indexDir, version, dim: recipe.dim, bytes: sizes.reduce((a, b) => a + b, 0), buildSeconds: built.get(version) ?? 0 };
    }),
  );
}

/**
 * Publishes the local snapshot `version` of `indexDir` to `uri` as the index job does (files
 * under their hashes, then CURRENT moved conditionally); resolves the seconds it took.
 *
 * @example
 * await publishToBucket(snap.indexDir, snap.version, 's3://twinsearch/index');
 */
export async function publishToBucket(indexDir: string, version: string, uri: string): Promise<number> {
  const snapshots = new ObjectSnapshots(uri);
  const started = performance.now();
  const outcome = await snapshots.publish(join(indexDir, version), await snapshots.current());
  if (!outcome.published) throw new Error(`publishing ${version} to ${uri} lost to another publisher`);
  return (performance.now() - started) / 1000;
}
