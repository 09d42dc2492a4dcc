/**
 * The re-index plan (pure): diff the effective gallery against the previous manifest by content
 * hash and decide what to embed, what to reuse, what to drop and how to build the new graph.
 *
 * Diff key: (origin, source). Same key and same sha256 = unchanged; same key, new sha256 =
 * changed; new key = added; key gone = removed. Independently, any image whose bytes (sha256)
 * already have a vector in the previous snapshot reuses it: a renamed or copied file costs no
 * embedding. Vectors are only reused under the same model (id and weights hash).
 */
import type { Metric } from '../model/config.js';
import { entryKey, type BuildMode, type HnswParams, type Manifest } from './manifest.js';
import type { GalleryEntry } from './store.js';

export interface ModelIdentity {
  id: string;
  weightsHash: string;
  dim: number;
  metric: Metric;
  normalized: boolean;
}

export interface PlanOptions {
  /** `full`: embed everything again; `rebuild`: new graph, reuse vectors. Default: decide. */
  force?: 'full' | 'rebuild';
  /** Rebuild the graph when deleted points would exceed this fraction of all points. Default 0.2. */
  maxDeletedFraction?: number;
}

/** Where a new entry's vector comes from. */
export type VectorSource = { from: 'previous'; row: number } | { from: 'embed'; index: number };

export interface PlannedEntry {
  entry: GalleryEntry;
  label: number;
  vector: VectorSource;
}

export interface Plan {
  mode: BuildMode;
  reason: string;
  /** New manifest entries, sorted by label. */
  entries: PlannedEntry[];
  /** Distinct images to embed (one per sha256). */
  toEmbed: GalleryEntry[];
  /** Previous labels to markDelete (incremental mode only). */
  deleteLabels: number[];
  /** Labels already deleted in the previous graph that stay deleted (incremental mode only). */
  keptDeletedLabels: number[];
  nextLabel: number;
  counts: { added: number; changed: number; removed: number; unchanged: number; embedded: number };
}

export const DEFAULT_MAX_DELETED_FRACTION = 0.2;

function modelChange(previous: Manifest, model: ModelIdentity): string | null {
  const was = previous.model;
  if (was.id !== model.id || was.weightsHash !== model.weightsHash) return `model changed (${was.id} → ${model.id})`;
  if (previous.dim !== model.dim) return `dimension changed (${previous.dim} → ${model.dim})`;
  if (previous.metric !== model.metric || previous.normalized !== model.normalized) return `metric changed (${previous.metric} → ${model.metric})`;
  return null;
}

function paramsChange(previous: Manifest, params: HnswParams): string | null {
  const was = previous.hnsw;
  if (was.M !== params.M || was.efConstruction !== params.efConstruction || was.randomSeed !== params.randomSeed) {
    return `HNSW parameters changed (M ${was.M} → ${params.M}, efConstruction ${was.efConstruction} → ${params.efConstruction})`;
  }
  return null;
}

/**
 * Plans the next snapshot.
 *
 * @example
 * const plan = planIndex(listing.entries, currentManifest, model, { M: 16, efConstruction: 200, ef: 100, randomSeed: 100 });
 * plan.mode;       // 'incremental'
 * plan.toEmbed;    // only the new or changed images
 */
export function planIndex(
  entries: readonly GalleryEntry[],
  previous: Manifest | null,
  model: ModelIdentity,
  params: HnswParams,
  options: PlanOptions = {},
): Plan {
  const maxDeleted = options.maxDeletedFraction ?? DEFAULT_MAX_DELETED_FRACTION;
  const seen = new Set<string>();
  for (const e of entries) {
    const key = entryKey(e);
    if (seen.has(key)) throw new Error(`gallery entry ${key} appears twice`);
    seen.add(key);
  }

  // Diff by key.
  const oldByKey = new Map((previous?.entries ?? []).map((e, row) => [entryKey(e), { e, row }]));
  const counts = { added: 0, changed: 0, removed: 0, unchanged: 0, embedded: 0 };
  const unchanged = new Set<string>();
  for (const e of entries) {
    const old = oldByKey.get(entryKey(e));
    if (!old) counts.added++;
    else if (old.e.sha256 !== e.sha256) counts.changed++;
    else {
      counts.unchanged++;
      unchanged.add(entryKey(e));
    }
  }
  for (const key of oldByKey.keys()) if (!seen.has(key)) counts.removed++;

  let mode: BuildMode;
  let reason: string;
  const modelReason = previous ? modelChange(previous, model) : 'no previous snapshot';
  if (options.force === 'full') [mode, reason] = ['full', 'full build requested'];
  else if (modelReason) [mode, reason] = ['full', modelReason];
  else {
    const p = previous as Manifest;
    const paramsReason = paramsChange(p, params);
    const deleteCount = p.entries.length - unchanged.size;
    const addCount = entries.length - unchanged.size;
    const deadAfter = p.hnsw.deletedLabels.length + deleteCount;
    const pointsAfter = p.hnsw.points + addCount;
    const deadFraction = pointsAfter === 0 ? 0 : deadAfter / pointsAfter;
    if (options.force === 'rebuild') [mode, reason] = ['rebuild', 'rebuild requested'];
    else if (paramsReason) [mode, reason] = ['rebuild', paramsReason];
    else if (deadFraction > maxDeleted) {
      [mode, reason] = ['rebuild', `deleted points would be ${(deadFraction * 100).toFixed(1)}% of the graph (limit ${(maxDeleted * 100).toFixed(0)}%)`];
    } else [mode, reason] = ['incremental', `${addCount} to add, ${deleteCount} to delete`];
  }

  // Vectors reusable by content (same model only).
  const reusableRow = new Map<string, number>();
  if (mode !== 'full' && previous) previous.entries.forEach((e, row) => reusableRow.has(e.sha256) || reusableRow.set(e.sha256, row));

  const toEmbed: GalleryEntry[] = [];
  const embedIndex = new Map<string, number>();
  const vectorFor = (e: GalleryEntry): VectorSource => {
    const row = reusableRow.get(e.sha256);
    if (row !== undefined) return { from: 'previous', row };
    let index = embedIndex.get(e.sha256);
    if (index === undefined) {
      index = toEmbed.length;
      embedIndex.set(e.sha256, index);
      toEmbed.push(e);
    }
    return { from: 'embed', index };
  };

  const planned: PlannedEntry[] = [];
  let deleteLabels: number[] = [];
  let keptDeletedLabels: number[] = [];
  let nextLabel: number;
  if (mode === 'incremental') {
    const p = previous as Manifest;
    nextLabel = p.hnsw.nextLabel;
    for (const e of entries) {
      const old = oldByKey.get(entryKey(e));
      if (old && unchanged.has(entryKey(e))) planned.push({ entry: e, label: old.e.label, vector: { from: 'previous', row: old.row } });
    }
    for (const e of entries) if (!unchanged.has(entryKey(e))) planned.push({ entry: e, label: nextLabel++, vector: vectorFor(e) });
    deleteLabels = p.entries.filter((e) => !unchanged.has(entryKey(e))).map((e) => e.label);
    keptDeletedLabels = [...p.hnsw.deletedLabels];
    planned.sort((a, b) => a.label - b.label);
  } else {
    nextLabel = 0;
    for (const e of entries) planned.push({ entry: e, label: nextLabel++, vector: vectorFor(e) });
  }
  counts.embedded = toEmbed.length;
  return { mode, reason, entries: planned, toEmbed, deleteLabels, keptDeletedLabels, nextLabel, counts };
}
