/** Smoke run of the training benchmark: one timed step per wasm configuration, results written. */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { benchTrain } from '../scripts/bench/train.js';

describe('npm run bench -- train (smoke)', () => {
  it('measures wasm with 0 and 2 workers and writes JSON and markdown', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'twinsearch-bench-'));
    try {
      const rows = await benchTrain({ steps: 1, cpuSteps: 1, out, backends: ['wasm'] });
      expect(rows.map((r) => r.workers)).toEqual([0, 2]);
      for (const r of rows) expect(r.pairsPerSecond).toBeGreaterThan(0);
      const json = JSON.parse(await readFile(path.join(out, 'train.json'), 'utf8')) as { result: { rows: unknown[] } };
      expect(json.result.rows).toHaveLength(2);
      expect(await readFile(path.join(out, 'train.md'), 'utf8')).toContain('| wasm | 2 |');
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  }, 180_000);
});
