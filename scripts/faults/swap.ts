/** Two snapshots swapped in while clients search: zero failed requests, both new versions served. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bearer, createFixture, READ_KEY, syntheticPng } from '../../test/fixtures/api.js';
import { readCurrent } from '../../src/index/snapshot.js';
import { loadWhile } from '../load/index.js';
import { serveFixture } from '../server/fixture.js';
import { answerVersion, readyz, reindexArgs, sleep, waitForVersion, type LoadStats } from './fixture.js';
import { reindex } from './reindex-process.js';

export interface SwapResult {
  connections: number;
  seconds: number;
  load: LoadStats;
  failed: number;
  swappedTo: string[];
  initial: string;
  /** How long the server took to serve each new snapshot after its CURRENT switched. */
  swapLatencyMs: number[];
}

/**
 * Serves a fixture in this process with `connections` clients searching, and swaps two snapshots in
 * (each built by the re-index CLI, picked up by the server's watcher) at a third and two thirds of `seconds`.
 *
 * @example
 * const r = await hotSwapsUnderLoad({ connections: 64, seconds: 10 }); r.failed // 0
 */
export async function hotSwapsUnderLoad(options: { connections: number; seconds: number }): Promise<SwapResult> {
  const fx = await createFixture({ identities: 8, perIdentity: 4 });
  const server = await serveFixture(fx, { RELOAD_POLL_MS: '200', EMBED_WORKERS: '1' });
  try {
    const initial = (await readyz(server.url)).body.index.version ?? '';
    const swappedTo: string[] = [];
    const swapLatencyMs: number[] = [];
    const versions = new Set<string>();
    const search = { method: 'POST' as const, path: '/v1/search', headers: { ...bearer(READ_KEY), 'content-type': 'image/png' }, body: Buffer.from(await syntheticPng(2002)) };
    const onResponse = (status: number, body: string): void => {
      const version = status === 200 ? answerVersion(body) : null;
      if (version) versions.add(version);
    };
    const began = performance.now();
    // Drained at the end: every request sent counts, as a 200 or as a failure.
    const { load: seen } = await loadWhile({ url: server.url, connections: options.connections, requests: [search], onResponse }, async () => {
      const third = (options.seconds * 1000) / 3;
      for (let round = 0; round < 2; round++) {
        await sleep(third * (round + 1) - (performance.now() - began));
        await writeFile(join(fx.galleryDir, 'id000', `swap-${round}.png`), await syntheticPng(9_000_000 + round));
        // The re-index runs as its own process, as `npm run reindex` would; the server's watcher picks it up.
        const run = await reindex(reindexArgs(fx));
        if (run.code !== 0) throw new Error(`re-index failed: ${run.stderr}`);
        const version = (await readCurrent(fx.indexDir)) ?? '';
        const t = performance.now();
        await waitForVersion(server.url, version, 20_000);
        swapLatencyMs.push(Math.round(performance.now() - t));
        swappedTo.push(version);
      }
      await sleep(Math.max(0, options.seconds * 1000 - (performance.now() - began)));
    });
    const load: LoadStats = { requests: seen.sent, statuses: seen.statuses, errors: seen.errors, unanswered: seen.unanswered, versions: [...versions] };
    const failed = load.requests - (load.statuses['200'] ?? 0);
    return { connections: options.connections, seconds: Math.round((performance.now() - began) / 100) / 10, load, failed, swappedTo, initial, swapLatencyMs };
  } finally {
    await server.close();
  }
}

