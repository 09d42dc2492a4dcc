/**
 * The face cases of the hostile corpus (scripts/hostile/faces.ts) against a face model served by
 * the Node adapter on a loopback port: each gets its documented answer, nothing answers 5xx, and
 * the server stays up and still finds people.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, bearer, READ_KEY } from './fixtures/api.js';
import { ATT_DIR, attFile, createFaceFixture, haveAtt } from './fixtures/faces.js';
import type { HostileCase } from '../scripts/hostile/corpus.js';
import { runCorpus } from '../scripts/hostile/runner.js';
import { buildFaceHostileCorpus } from '../scripts/hostile/faces.js';
import { serveFixture, type FixtureServer } from '../scripts/server/fixture.js';

describe.skipIf(!haveAtt)('hostile face inputs through a real socket', () => {
  let server: FixtureServer;
  let cases: HostileCase[];
  beforeAll(async () => {
    const fx = await createFaceFixture({ people: 4, photos: 2 });
    [server, cases] = await Promise.all([serveFixture(fx), buildFaceHostileCorpus({ attDir: ATT_DIR, readKey: READ_KEY, adminKey: ADMIN_KEY })]);
  }, 180_000);
  afterAll(async () => {
    await server?.close();
  });

  it('answers every face case as documented, never 5xx, and stays up', async () => {
    const results = await runCorpus(server.url, cases, 2);
    const wrong = results.filter((r) => !r.ok).map((r) => `${r.name}: expected ${r.expect.status} ${r.expect.code ?? ''}, got ${r.got.status} ${r.got.code ?? ''} ${r.got.error ?? ''}`);
    expect(wrong).toEqual([]);
    expect(results.filter((r) => r.got.status >= 500 || r.got.status === 0)).toEqual([]);
    const res = await fetch(`${server.url}/v1/search`, { method: 'POST', body: new Uint8Array(await readFile(attFile(32, 8))), headers: bearer(READ_KEY) });
    expect(((await res.json()) as { decision: { identity: string } }).decision.identity).toBe('s32');
  }, 180_000);
});
