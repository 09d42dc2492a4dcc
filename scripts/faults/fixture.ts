/** What the fault scenarios share: the re-index CLI's arguments, and reading a fixture's snapshot and server state. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bearer, READ_KEY, type Fixture } from '../../test/fixtures/api.js';
import { openSnapshot } from '../../src/index/live-snapshot.js';

export type Log = (line: string) => void;
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The re-index CLI's arguments for a fixture. */
export const reindexArgs = (fx: Fixture): string[] => ['--model', fx.modelDir, '--gallery', fx.galleryDir, '--out', fx.indexDir, '--workers', '0', '--backend', 'wasm', '--no-progress'];

/** The manifest's (identity, sha256) pairs of the snapshot CURRENT names, verified (throws when it does not verify). */
export async function snapshotEntries(fx: Fixture): Promise<{ version: string; entries: { identity: string; sha256: string }[] }> {
  const modelCard = JSON.parse(await readFile(join(fx.modelDir, 'model-card.json'), 'utf8')) as { modelId: string; metric: 'l2' | 'cosine'; embeddingSize: number };
  const index = await openSnapshot(fx.indexDir, { expect: { dim: modelCard.embeddingSize, metric: modelCard.metric, modelId: modelCard.modelId } });
  return { version: index.version, entries: index.manifest.entries.map((e) => ({ identity: e.identity, sha256: e.sha256 })) };
}

/** Every identity with its image count, through the paged listing. */
export async function listing(url: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor: string | null = null;
  do {
    const res = await fetch(`${url}/v1/gallery?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { headers: bearer(READ_KEY) });
    const page = (await res.json()) as { identities: { identity: string; images: number }[]; nextCursor: string | null };
    for (const i of page.identities) out.set(i.identity, i.images);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

export interface Ready {
  status: string;
  index: { version: string | null; refused: { version: string; code: string; message: string } | null };
}

export async function readyz(url: string): Promise<{ http: number; body: Ready }> {
  const res = await fetch(`${url}/readyz`);
  return { http: res.status, body: (await res.json()) as Ready };
}

/** Waits until the server serves `version` (fs.watch or the poll), up to `ms`. */
export async function waitForVersion(url: string, version: string, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if ((await readyz(url)).body.index.version === version) return true;
    await sleep(25);
  }
  return false;
}

/** The index version a search answer came from, or null (not JSON, or not a search answer). */
export function answerVersion(body: string): string | null {
  try {
    return (JSON.parse(body) as { index?: { version?: string } }).index?.version ?? null;
  } catch {
    return null;
  }
}

/** What the clients of a scenario under load saw. */
export interface LoadStats {
  /** Requests sent. */
  requests: number;
  statuses: Record<string, number>;
  /** Requests that ended without an answer, by error. */
  errors: Record<string, number>;
  /** Requests sent that got neither an answer nor an error (lost). */
  unanswered: number;
  /** Index versions the 200s were answered from. */
  versions: string[];
}
