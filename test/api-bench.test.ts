/**
 * Smoke run of the HTTP benchmark (`npm run bench -- http`, scripts/bench/http/): a tiny gallery and
 * model, one-second runs, one cold start each way. The real run's numbers are in bench/results/http.md.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeResults } from '../scripts/bench/common.js';
import { httpMarkdown } from '../scripts/bench/http/report.js';
import { runApiBench } from '../scripts/bench/http/run.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('HTTP benchmark (smoke)', () => {
  it('serves /v1/search under load with zero errors, reports stages and cold starts', async () => {
    const work = await mkdtemp(join(tmpdir(), 'api-bench-'));
    dirs.push(work);
    const r = await runApiBench({ images: 60, duration: 1, connections: [1, 4], workers: [0], routes: ['search', 'verify'], queries: ['png28', 'photo'], coldStarts: 1, work, tiny: true });
    expect(r.gallery).toMatchObject({ images: 60, identities: 6 });
    expect(r.servers).toHaveLength(1);
    const [server] = r.servers;
    expect(server.coldStartMs[0]).toBeGreaterThan(0);
    expect(r.lambdaColdStartMs[0].ms[0]).toBeGreaterThan(0);
    for (const run of server.runs) {
      expect(run.requests).toBeGreaterThan(0);
      expect(run.errors + run.non2xx).toBe(0);
      expect(run.server.embed).toBeGreaterThan(0);
      expect(run.server.decode).toBeGreaterThan(0);
      expect(run.server.handler).toBeGreaterThanOrEqual(run.server.embed);
    }
    const markdown = httpMarkdown(r, 'smoke');
    expect(markdown).toMatch(/\| \/v1\/verify \| serving thread \| 640x480 JPEG \| 4 \|/);
    expect(markdown).toContain('Cold start');
    const [json] = await writeResults(join(work, 'out'), 'http', r, markdown);
    expect(JSON.parse(await readFile(json, 'utf8')).result.servers[0].runs).toHaveLength(8);
  }, 120_000);
});
