/**
 * Catching an opened snapshot up with the gallery store: the snapshot reflects the journal up
 * to `manifest.gallery.journalSeq`; enrolments and deletions recorded after that (made while
 * the re-index ran, or after it) are replayed into the in-memory index, in journal order.
 * The local store calls this after every swap to a new snapshot and at start-up.
 */
import { IndexError } from './errors.js';
import type { Embedder } from '../embedding/index.js';
import type { LiveSnapshot } from './live-snapshot.js';
import type { GalleryStore } from './store.js';

export interface CatchUpResult {
  /** Journal records applied. */
  records: number;
  imagesAdded: number;
  identitiesDeleted: number;
  /** Last journal sequence number now reflected by the index. */
  journalSeq: number;
}

/**
 * Replays journal records newer than `sinceSeq` (default: the snapshot's) into `index`.
 *
 * @example
 * const index = await openSnapshot('index', { expect });
 * const { journalSeq } = await catchUp(index, store, embedder); // remember journalSeq for the next call
 */
export async function catchUp(index: LiveSnapshot, store: GalleryStore, embedder: Embedder, sinceSeq = index.manifest.gallery.journalSeq): Promise<CatchUpResult> {
  const records = await store.records(sinceSeq);
  const result: CatchUpResult = { records: 0, imagesAdded: 0, identitiesDeleted: 0, journalSeq: sinceSeq };
  // An enrolment undone by a later deletion in the same replay is skipped: its blobs may already be
  // erased (store.removeDeletedBlobs), and embedding them would only be undone.
  const lastDelete = new Map(records.filter((r) => r.op === 'delete').map((r) => [r.identity, r.seq]));
  for (const record of records) {
    if (record.op === 'enrol' && record.seq < (lastDelete.get(record.identity) ?? -1)) {
      result.records++;
      result.journalSeq = record.seq;
      continue;
    }
    if (record.op === 'delete') {
      if (index.deleteLive(record.identity) > 0) result.identitiesDeleted++;
    } else {
      const entries = record.images.map((im) => ({ identity: record.identity, origin: 'enrolment' as const, source: `${record.identity}/${im.sha256}`, sha256: im.sha256, size: im.size }));
      const { vectors, failed } = await embedder.embedAll(record.images.map((im) => store.blobPath(im.sha256)));
      if (failed.length) throw new IndexError('EMBED_FAILED', `enrolled image ${store.blobPath(record.images[failed[0].index].sha256)} cannot be embedded: ${failed[0].reason}`);
      index.addLive(entries, vectors);
      result.imagesAdded += entries.length;
    }
    result.records++;
    result.journalSeq = record.seq;
  }
  return result;
}
