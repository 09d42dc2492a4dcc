/**
 * Reading a snapshot back, trusting nothing: checksums first, then the manifest, the vectors and
 * the graph must agree with each other and with what the caller expects (model, dimension,
 * metric). Used by the server before it swaps a snapshot in, by the index job before it builds on
 * one, and by tests and benchmarks that need a snapshot's vectors (for an exact scan).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metric } from '../model/config.js';
import { readChecksums, verifyFile, type Checksums } from './checksums.js';
import { IndexError } from './errors.js';
import type { Hnsw } from './hnsw.js';
import { HNSW_FILE, MANIFEST_FILE, parseManifest, VECTORS_FILE, type Manifest } from './manifest.js';
import { readCurrent } from './snapshot.js';
import { bytesToVectors } from './vectors.js';

export interface SnapshotData {
  version: string;
  dir: string;
  manifest: Manifest;
  /** Row-major, row i = manifest.entries[i]. */
  vectors: Float32Array;
  checksums: Checksums;
}

export interface Expectation {
  dim: number;
  metric: Metric;
  /** Also require this model id (and weights hash), when given. */
  modelId?: string;
  weightsHash?: string;
}

/** Resolves `version` or CURRENT to a snapshot folder name. */
export async function resolveVersion(indexDir: string, version?: string): Promise<string> {
  if (version) return version;
  const current = await readCurrent(indexDir);
  if (!current) throw new IndexError('NO_CURRENT', `${join(indexDir, 'CURRENT')} does not exist: build an index first (npm run index)`);
  return current;
}

/**
 * Reads and verifies a snapshot's manifest and vectors (and, with `verifyHnsw`, hnsw.bin)
 * against checksums.json, and checks they agree with each other.
 *
 * @example
 * const { manifest, vectors } = await readSnapshotData('index', 'v000003-20261128T180102Z', { verifyHnsw: true });
 */
export async function readSnapshotData(indexDir: string, version: string, options: { verifyHnsw: boolean }): Promise<SnapshotData> {
  const dir = join(indexDir, version);
  const checksums = await readChecksums(dir).catch((error: unknown) => {
    if (error instanceof IndexError && (error.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
      throw new IndexError('NO_SNAPSHOT', `snapshot ${dir} does not exist or is incomplete`, { cause: error });
    }
    throw error;
  });
  const manifestBytes = await readFile(join(dir, MANIFEST_FILE)).catch((error: unknown) => {
    throw new IndexError('CORRUPT_SNAPSHOT', `${join(dir, MANIFEST_FILE)} is missing`, { cause: error });
  });
  await verifyFile(dir, checksums, MANIFEST_FILE, manifestBytes);
  const manifest = parseManifest(manifestBytes.toString('utf8'), join(dir, MANIFEST_FILE));
  if (manifest.version !== version) throw new IndexError('CORRUPT_SNAPSHOT', `${dir} holds the manifest of ${manifest.version}`);
  const vectorBytes = await readFile(join(dir, VECTORS_FILE)).catch((error: unknown) => {
    throw new IndexError('CORRUPT_SNAPSHOT', `${join(dir, VECTORS_FILE)} is missing`, { cause: error });
  });
  await verifyFile(dir, checksums, VECTORS_FILE, vectorBytes);
  const vectors = bytesToVectors(vectorBytes);
  if (vectors.length !== manifest.entries.length * manifest.dim) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${VECTORS_FILE} holds ${vectors.length} floats, the manifest needs ${manifest.entries.length} x ${manifest.dim}`);
  }
  if (options.verifyHnsw) await verifyFile(dir, checksums, HNSW_FILE);
  return { version, dir, manifest, vectors, checksums };
}

/** Throws `MISMATCH` unless the snapshot was built for what the caller expects. */
export function checkExpectation(manifest: Manifest, expect: Expectation): void {
  const problems = expectationProblems({ dim: manifest.dim, metric: manifest.metric, modelId: manifest.model.id, weightsHash: manifest.model.weightsHash }, expect);
  const otherModel = expect.modelId !== undefined && manifest.model.id !== expect.modelId;
  if (problems.length) {
    throw new IndexError('MISMATCH', `snapshot ${manifest.version} was built with ${problems.join('; ')}: build an index with this model`, otherModel ? { builtWith: manifest.model.id } : {});
  }
}

/**
 * How an index built with `found` differs from what the serving model needs (empty: it fits).
 *
 * @example
 * expectationProblems({ dim: 128, metric: 'l2', modelId: 'a', weightsHash: 'h' }, { dim: 64, metric: 'l2' }) // ['dimension 128, expected 64']
 */
export function expectationProblems(found: Required<Expectation>, expect: Expectation): string[] {
  const problems: string[] = [];
  if (found.dim !== expect.dim) problems.push(`dimension ${found.dim}, expected ${expect.dim}`);
  if (found.metric !== expect.metric) problems.push(`metric ${found.metric}, expected ${expect.metric}`);
  if (expect.modelId !== undefined && found.modelId !== expect.modelId) problems.push(`model ${found.modelId}, expected ${expect.modelId}`);
  if (expect.weightsHash !== undefined && found.weightsHash !== expect.weightsHash) problems.push('other model weights than expected');
  return problems;
}

/** Compares hnsw.bin with vectors.f32 on a few points: a graph of another dimension or gallery fails here. */
export function checkGraph(index: Hnsw, data: SnapshotData): void {
  const { manifest, vectors } = data;
  if (index.getCurrentCount() !== manifest.hnsw.points) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${HNSW_FILE} of ${data.version} has ${index.getCurrentCount()} points, the manifest says ${manifest.hnsw.points}`);
  }
  const n = manifest.entries.length;
  const samples = n === 0 ? [] : [...new Set([0, n - 1, Math.floor(n / 2), Math.floor(n / 3)])];
  for (const row of samples) {
    const label = manifest.entries[row].label;
    let point: number[];
    try {
      point = index.getPoint(label);
    } catch (error) {
      throw new IndexError('CORRUPT_SNAPSHOT', `${HNSW_FILE} of ${data.version} lacks label ${label}`, { cause: error });
    }
    for (let j = 0; j < manifest.dim; j++) {
      if (point[j] !== vectors[row * manifest.dim + j]) {
        throw new IndexError('CORRUPT_SNAPSHOT', `${HNSW_FILE} and ${VECTORS_FILE} of ${data.version} disagree on label ${label}`);
      }
    }
  }
}
