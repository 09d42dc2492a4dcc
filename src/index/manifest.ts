/**
 * manifest.json: what a snapshot contains and how it was built. Entry i describes row i of
 * vectors.f32 and the hnswlib point with label `entries[i].label`.
 */
import { z } from 'zod';
import { IndexError } from './errors.js';

/** Bumped when the snapshot layout changes incompatibly. */
export const MANIFEST_FORMAT = 1;
export const MANIFEST_FILE = 'manifest.json';
export const HNSW_FILE = 'hnsw.bin';
export const VECTORS_FILE = 'vectors.f32';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');

export const ManifestEntrySchema = z.object({
  /** hnswlib label (uint32); stable across incremental re-indexes, renumbered by a rebuild. */
  label: z.number().int().nonnegative().max(0xffffffff),
  identity: z.string().min(1),
  /** `folder`: a file under the gallery root; `enrolment`: an image enrolled through the API (gallery store). */
  origin: z.enum(['folder', 'enrolment']),
  /** Folder: path relative to the gallery root (`/`-separated). Enrolment: `<identity>/<sha256>`. */
  source: z.string().min(1),
  /** sha256 of the image bytes: the re-index diff key and the embedding cache key. */
  sha256,
  /** Size of the image in bytes. */
  size: z.number().int().nonnegative(),
});
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;

export const HnswParamsSchema = z.object({
  /** Graph degree (links per node per layer; 2M on layer 0). */
  M: z.number().int().min(2),
  efConstruction: z.number().int().min(1),
  /** Search-time candidate list size, set with setEf after every load. */
  ef: z.number().int().min(1),
  randomSeed: z.number().int().nonnegative(),
});
export type HnswParams = z.infer<typeof HnswParamsSchema>;

export const BuildModeSchema = z.enum(['full', 'rebuild', 'incremental']);
/** `full`: every image embedded; `rebuild`: new graph from kept + new vectors; `incremental`: old graph + markDelete + add. */
export type BuildMode = z.infer<typeof BuildModeSchema>;

export const ManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  version: z.string(),
  /** The snapshot this one was derived from (null for the first). */
  parent: z.string().nullable(),
  createdAt: z.string(),
  model: z.object({ id: z.string(), weightsHash: z.string() }),
  dim: z.number().int().positive(),
  metric: z.enum(['l2', 'cosine']),
  /** Vectors are stored L2-normalised. */
  normalized: z.boolean(),
  /** hnswlib space; always `l2` (see distance.ts for how distances are reported). */
  space: z.literal('l2'),
  hnsw: HnswParamsSchema.extend({
    /** Capacity of hnsw.bin (grows by resizeIndex). */
    maxElements: z.number().int().nonnegative(),
    /** Points in hnsw.bin, deleted ones included (hnswlib's getCurrentCount). */
    points: z.number().int().nonnegative(),
    /** Next free label. Incremental runs never reuse a label (a deleted one stays in the graph); a rebuild renumbers from 0. */
    nextLabel: z.number().int().nonnegative(),
    /** Labels marked deleted in hnsw.bin (re-index keeps them below `maxDeletedFraction` of points). */
    deletedLabels: z.array(z.number().int().nonnegative()),
  }),
  counts: z.object({
    images: z.number().int().nonnegative(),
    identities: z.number().int().nonnegative(),
    deleted: z.number().int().nonnegative(),
  }),
  build: z.object({
    mode: BuildModeSchema,
    reason: z.string(),
    added: z.number().int().nonnegative(),
    changed: z.number().int().nonnegative(),
    removed: z.number().int().nonnegative(),
    unchanged: z.number().int().nonnegative(),
    embedded: z.number().int().nonnegative(),
    seconds: z.number().nonnegative(),
  }),
  gallery: z.object({
    root: z.string(),
    store: z.string(),
    /** Last gallery-store journal sequence number included: the API replays later records after loading. */
    journalSeq: z.number().int().nonnegative(),
  }),
  entries: z.array(ManifestEntrySchema),
  /**
   * Face models: which gallery images held no face (left out of the index, retried by every run)
   * and which held several (`rule`: the largest face was indexed).
   */
  faces: z
    .object({
      rule: z.literal('largest'),
      noFace: z.array(z.object({ identity: z.string(), origin: z.enum(['folder', 'enrolment']), source: z.string() })),
      several: z.array(z.object({ identity: z.string(), origin: z.enum(['folder', 'enrolment']), source: z.string(), faces: z.number().int().min(2) })),
    })
    .optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * Parses manifest.json text, checking the schema and internal consistency.
 *
 * @example
 * const manifest = parseManifest(await readFile(join(dir, MANIFEST_FILE), 'utf8'));
 */
export function parseManifest(text: string, where = MANIFEST_FILE): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new IndexError('BAD_MANIFEST', `${where} is not JSON`, { cause: error });
  }
  const result = ManifestSchema.safeParse(json);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new IndexError('BAD_MANIFEST', `${where}: ${first.path.join('.') || '(root)'}: ${first.message}`, { cause: result.error });
  }
  checkConsistency(result.data, where);
  return result.data;
}

/** Cross-field checks the schema cannot express. */
function checkConsistency(m: Manifest, where: string): void {
  const fail = (why: string): never => {
    throw new IndexError('BAD_MANIFEST', `${where}: ${why}`);
  };
  if (m.counts.images !== m.entries.length) fail(`counts.images is ${m.counts.images} but there are ${m.entries.length} entries`);
  if (m.counts.deleted !== m.hnsw.deletedLabels.length) fail('counts.deleted disagrees with hnsw.deletedLabels');
  if (m.hnsw.points !== m.entries.length + m.hnsw.deletedLabels.length) fail('hnsw.points is not entries + deleted labels');
  const labels = new Set<number>();
  for (const e of m.entries) {
    if (labels.has(e.label)) fail(`label ${e.label} appears twice`);
    if (e.label >= m.hnsw.nextLabel) fail(`label ${e.label} is not below nextLabel ${m.hnsw.nextLabel}`);
    labels.add(e.label);
  }
  for (const l of m.hnsw.deletedLabels) {
    if (labels.has(l)) fail(`label ${l} is both live and deleted`);
    labels.add(l);
  }
  const identities = new Set(m.entries.map((e) => e.identity));
  if (m.counts.identities !== identities.size) fail(`counts.identities is ${m.counts.identities} but entries name ${identities.size}`);
}

/** The diff key of a gallery entry: origin and source together name one image slot. */
export function entryKey(e: { origin: string; source: string }): string {
  return `${e.origin}:${e.source}`;
}
