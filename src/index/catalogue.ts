/**
 * What a served generation holds, by label, identity, content hash and source: the one map of a
 * live snapshot (search results name their images through it, `GET /v1/gallery` pages its
 * identities, thumbnails find their bytes). Built from a snapshot's manifest and changed with
 * every live enrolment and deletion of that same instance.
 */
import type { ManifestEntry } from './manifest.js';

export type CatalogueEntry = ManifestEntry;

/** Orders strings by UTF-8 bytes, like the gallery store (locale-independent, stable cursors). */
const byBytes = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

export class Catalogue {
  private readonly byLabel = new Map<number, CatalogueEntry>();
  private readonly byIdentity = new Map<string, Set<number>>();
  private readonly bySha = new Map<string, Set<number>>();
  /** `origin\0source` of live entries (enrolment dedup, same key as the re-index's diff). */
  private readonly sources = new Set<string>();
  private sorted: string[] | null = null;

  /**
   * @example
   * const catalogue = Catalogue.fromEntries(index.manifest.entries);
   */
  static fromEntries(entries: readonly CatalogueEntry[]): Catalogue {
    const c = new Catalogue();
    for (const e of entries) c.add(e);
    return c;
  }

  add(entry: CatalogueEntry): void {
    this.byLabel.set(entry.label, entry);
    const labels = this.byIdentity.get(entry.identity) ?? new Set<number>();
    if (labels.size === 0) this.sorted = null;
    labels.add(entry.label);
    this.byIdentity.set(entry.identity, labels);
    const same = this.bySha.get(entry.sha256) ?? new Set<number>();
    same.add(entry.label);
    this.bySha.set(entry.sha256, same);
    this.sources.add(`${entry.origin}\0${entry.source}`);
  }

  /** Forgets every image of an identity; returns how many. */
  deleteIdentity(identity: string): number {
    const labels = this.byIdentity.get(identity);
    if (!labels) return 0;
    for (const label of labels) {
      const e = this.byLabel.get(label);
      this.byLabel.delete(label);
      if (!e) continue;
      this.sources.delete(`${e.origin}\0${e.source}`);
      const same = this.bySha.get(e.sha256);
      same?.delete(label);
      if (same?.size === 0) this.bySha.delete(e.sha256);
    }
    this.byIdentity.delete(identity);
    this.sorted = null;
    return labels.size;
  }

  /** The entry of a label (undefined once deleted). */
  get(label: number): CatalogueEntry | undefined {
    return this.byLabel.get(label);
  }

  /** The labels of an identity's images (empty when unknown). */
  labelsOf(identity: string): ReadonlySet<number> {
    return this.byIdentity.get(identity) ?? new Set();
  }

  hasSource(origin: CatalogueEntry['origin'], source: string): boolean {
    return this.sources.has(`${origin}\0${source}`);
  }

  count(identity: string): number {
    return this.byIdentity.get(identity)?.size ?? 0;
  }

  get identities(): number {
    return this.byIdentity.size;
  }

  get images(): number {
    return this.byLabel.size;
  }

  /**
   * An image by index label (`"42"`) or by the sha256 of its bytes.
   *
   * @example
   * catalogue.find('3f1c…e9') // { label: 42, identity: 'alice', origin: 'folder', source: 'alice/1.png', … }
   */
  find(key: string): CatalogueEntry | undefined {
    if (/^\d{1,10}$/.test(key)) return this.byLabel.get(Number(key));
    if (/^[0-9a-f]{64}$/.test(key)) {
      const labels = this.bySha.get(key);
      if (!labels) return undefined;
      const [first] = labels;
      return this.byLabel.get(first);
    }
    return undefined;
  }

  /**
   * One page of identities in byte order, after `cursor` (the last identity of the previous page).
   *
   * @example
   * catalogue.page(undefined, 2) // { identities: [{ identity: '0', images: 100 }, { identity: '1', images: 100 }], next: '1' }
   */
  page(after: string | undefined, limit: number): { identities: { identity: string; images: number }[]; next: string | null } {
    this.sorted ??= [...this.byIdentity.keys()].sort(byBytes);
    const all = this.sorted;
    // Binary search for the first identity after the cursor.
    let lo = 0;
    let hi = all.length;
    if (after !== undefined) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (byBytes(all[mid], after) <= 0) lo = mid + 1;
        else hi = mid;
      }
    }
    const slice = all.slice(lo, lo + limit);
    const next = lo + limit < all.length ? slice[slice.length - 1] : null;
    return { identities: slice.map((identity) => ({ identity, images: this.count(identity) })), next };
  }
}
