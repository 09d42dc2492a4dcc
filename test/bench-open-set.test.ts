/**
 * The open-set benchmark's smoke run, small: 4 gallery people with 3 photos each, their photos 4-10
 * as known probes and 2 strangers, the faces preset served and searched through /v1/search.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { datasetsDir } from '../src/data/datasets.js';
import { runOpenSetBench } from '../scripts/bench/open-set.js';

const att = join(datasetsDir(), 'att-faces');
let out: string | undefined;

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

describe.skipIf(!existsSync(att))('npm run bench -- open-set (smoke)', () => {
  it('serves the faces preset and counts known photos matched right and strangers matched to anyone', async () => {
    out = await mkdtemp(join(tmpdir(), 'open-set-bench-'));
    const result = await runOpenSetBench({ data: att, people: 4, galleryPhotos: 3, strangers: { first: 5, count: 2 }, workers: 0, out, command: 'test' });
    expect(result.known.probes).toBe(4 * 7);
    expect(result.strangers.probes).toBe(20);
    expect(result.known.errors + result.strangers.errors).toBe(0);
    expect(result.known.matchedRight + result.known.matchedWrong + result.known.unknown + result.known.noFace).toBe(result.known.probes);
    // The server decided with the calibrated open-set threshold, and reported it with its warning (4 people are few).
    expect(result.threshold.fpir).not.toBeNull();
    expect(result.threshold.warning).toMatch(/too little calibration data/);
    // Every stranger reported as matched lies within the threshold the server decided with; the known photos are found.
    for (const m of result.strangers.matchedTo) expect(m.distance).toBeLessThanOrEqual(result.threshold.value);
    expect(result.strangers.rate).toBe(result.strangers.matchedTo.length / 20);
    expect(result.known.rate).toBeGreaterThanOrEqual(0.9);
    const saved = JSON.parse(await readFile(join(out, 'open-set.json'), 'utf8')) as { result: { known: { rate: number } } };
    expect(saved.result.known.rate).toBe(result.known.rate);
    expect(await readFile(join(out, 'open-set.md'), 'utf8')).toMatch(new RegExp(`matched to someone: ${(result.strangers.rate * 100).toFixed(1)}%`));
  }, 240_000);
});
