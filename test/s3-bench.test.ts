/**
 * Smoke runs of the object-storage benchmarks (scripts/bench/s3-cold-start.ts, s3-publish.ts) at a
 * small size, on the run's S3 server: the real runs and their numbers are in
 * bench/results/s3-cold-start.md and s3-publish.md (docs/storage.md).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runS3ColdStartBench, s3ColdStartMarkdown } from '../scripts/bench/s3-cold-start.js';
import { runS3PublishBench, s3PublishMarkdown } from '../scripts/bench/s3-publish.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function work(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 's3-bench-'));
  dirs.push(dir);
  return dir;
}

describe('object-storage benchmarks (smoke)', () => {
  it('cold start from object storage: downloads every file into an empty scratch space, verifies and opens it, and answers the first search', async () => {
    const r = await runS3ColdStartBench({ images: 2000, runs: 1, work: await work(), tiny: true, s3: inject('s3') });
    expect(r.runs.map((x) => x.source)).toEqual(['local disk', 'object storage']);
    const [local, remote] = r.runs;
    expect(local.load.fetch).toBeUndefined();
    expect(remote.load.fetch).toMatchObject({ downloaded: 4 });
    expect(remote.load.fetch?.bytes).toBeGreaterThan(2000 * r.dim * 4);
    expect(remote.load.fetch?.downloadMs).toBeGreaterThan(0);
    expect(remote.load.fetch?.verifyMs).toBeGreaterThan(0);
    expect(r.ratio).toBeGreaterThan(0);
    expect(s3ColdStartMarkdown(r)).toMatch(/\| object storage \| \d+ \|/);
  }, 240_000);

  it('two instances under load while a snapshot is published: no failed request, both end on the new snapshot', async () => {
    const tmpdir = process.env.TMPDIR;
    const r = await runS3PublishBench({ images: 500, connections: 4, pollMs: 200, work: await work(), tiny: true, s3: inject('s3') });
    // The instances' scratch spaces were set for them alone: this process's is as it was.
    expect(process.env.TMPDIR).toBe(tmpdir);
    expect(r.instances).toHaveLength(2);
    for (const x of r.instances) {
      expect(x.requests).toBeGreaterThan(0);
      expect(x.failed).toBe(0);
      expect(x.after).not.toBe(x.before);
      expect(x.pickUpMs).not.toBeNull();
    }
    expect(s3PublishMarkdown(r)).toContain('| a | 4 |');
  }, 240_000);
});
