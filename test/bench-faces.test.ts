/**
 * Smoke run of `npm run bench -- faces` (scripts/bench/faces.ts): a tiny gallery and eight-request
 * loads, checking that every figure is measured (no errors, positive rates, ratios that are the
 * quotients they claim) and that the section renders. The real run is in docs/benchmarks.md.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { faceBenchMarkdown, runFaceBench } from '../scripts/bench/faces.js';
import { haveAtt } from './fixtures/faces.js';

let work = '';
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe.skipIf(!haveAtt)('npm run bench -- faces (smoke)', () => {
  it('measures the stage split, /v1/search against the bare path, server against direct workers, and index faces/s', async () => {
    work = await mkdtemp(join(tmpdir(), 'bench-faces-'));
    const r = await runFaceBench({ people: 2, photos: 2, requests: 8, workers: 1, queries: 2, work: join(work, 'run') });
    expect(r.index).toMatchObject({ workers: 1, images: 4 });
    expect(r.index.facesPerSecond).toBeGreaterThan(0);
    const { search, ...pipeline } = r.stages;
    for (const stage of Object.values(pipeline)) expect(stage).toBeGreaterThan(0);
    expect(search).toBeGreaterThanOrEqual(0); // microseconds on 4 images: may round to 0
    expect(r.oneConnection.errors).toBe(0);
    expect(r.oneConnection.requests).toBeGreaterThan(0);
    expect(r.oneConnection.ratio).toBeCloseTo(r.oneConnection.searchMs / r.oneConnection.bareMs, 1);
    expect(r.eightConnections.errors).toBe(0);
    expect(r.eightConnections.ratio).toBeCloseTo(r.eightConnections.serverRps / r.eightConnections.directImagesPerSecond, 1);
    const md = faceBenchMarkdown(r);
    expect(md).toContain('faces/s');
    expect(md).toContain('<= 1.5x');
  }, 240_000);
});
