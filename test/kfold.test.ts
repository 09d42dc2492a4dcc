/** The k-fold script: the plan of runs, the exact-name filter, the report, and a real run on the digit sample. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exactNames, failed, kfoldReport, planKFold, runKFold, type KFoldResult } from '../scripts/research/kfold.js';
import { ensureSampleGallery } from '../src/data/sample.js';

describe('planKFold', () => {
  const pool = ['s10', 's2', 's1', 's3', 's4', 's5', 's6', 's7', 's8', 's9'];

  it('splits the pool in natural order into contiguous folds, each trained on the rest, once per seed', () => {
    const runs = planKFold(pool, 3, [42, 7], ['s11', 's12']);
    expect(runs.map((r) => `${r.fold}${r.seed}`)).toEqual(['a42', 'b42', 'c42', 'test42', 'a7', 'b7', 'c7', 'test7']);
    expect(runs.slice(0, 3).map((r) => r.score)).toEqual([['s1', 's2', 's3'], ['s4', 's5', 's6', 's7'], ['s8', 's9', 's10']]);
    for (const run of runs.filter((r) => r.fold !== 'test')) {
      expect([...run.train, ...run.score].sort()).toEqual([...pool].sort());
      expect(run.train.some((n) => run.score.includes(n))).toBe(false);
    }
    expect(runs[3]).toMatchObject({ train: expect.arrayContaining(pool) as unknown, score: ['s11', 's12'] });
    expect(planKFold(pool, 2, [1])).toHaveLength(2);
  });

  it('refuses folds too small to score pairs, and test identities the test run would train on', () => {
    expect(() => planKFold(['a', 'b', 'c'], 2, [1])).toThrow(/too few/);
    expect(() => planKFold(pool, 1, [1])).toThrow(/2 or more/);
    expect(() => planKFold(pool, 2, [1], ['s9', 's11'])).toThrow(/must not be in the pool.*s9/);
  });
});

describe('exactNames', () => {
  it('matches exactly the names, with regex characters escaped', () => {
    const re = new RegExp(exactNames(['s1', 'Latin/character03', 'a.b']));
    expect(['s1', 'Latin/character03', 'a.b'].every((n) => re.test(n))).toBe(true);
    expect(['s10', 'xs1', 'aXb', 'Latin/character0'].some((n) => re.test(n))).toBe(false);
  });
});

describe('kfoldReport', () => {
  const result = (fold: string, seed: number, eer: number): KFoldResult => ({ fold, seed, train: [], score: [], eer, auc: 1, rank1: 1, mapAtR: 1, tarAtFar: {}, seconds: 1 });

  it('gives each seed its fold mean and the mean over seeds', () => {
    const md = kfoldReport([result('a', 42, 0.02), result('b', 42, 0.04), result('test', 42, 0.1), result('a', 7, 0.04), result('b', 7, 0.08), result('test', 7, 0.12)], { name: 'x', command: 'c' });
    expect(md).toContain('| 42 | 2.0% | 4.0% | 3.0% | 10.0% |');
    expect(md).toContain('| 7 | 4.0% | 8.0% | 6.0% | 12.0% |');
    expect(md).toContain('| mean | 3.0% | 6.0% | 4.5% | 11.0% |');
    expect(kfoldReport([], { name: 'x', command: 'c' })).toContain('No run finished.');
  });
});

describe('runKFold (trains and scores in child processes)', () => {
  let dir: string;
  let gallery: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'twinsearch-kfold-'));
    gallery = (await ensureSampleGallery(path.join(dir, 'digits'), { perIdentity: 12 })).dir;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trains each run on its identities only, scores the held-out ones, and goes on past a failed run', async () => {
    const planned = planKFold(['0', '1', '2', '3', '4', '5', '6', '7'], 2, [3], ['8', '9']);
    // Fold a cannot train on one identity: it must fail alone, with its log named.
    const runs = [{ ...planned[0]!, train: ['0'] }, ...planned.slice(1)];
    const seen: string[] = [];
    const outcomes = await runKFold(runs, {
      data: gallery,
      out: path.join(dir, 'models'),
      name: 'smoke',
      trainArgs: ['--epochs', '1', '--steps-per-epoch', '2', '--batch', '16', '--workers', '1', '--val-fraction', '0.25', '--patience', '0', '--seed', '99'],
      parallel: 2,
      onResult: (r, done) => {
        seen.push(r.fold);
        expect(done).toContain(r);
      },
    });
    expect(outcomes.map((r) => r.fold)).toEqual(['a', 'b', 'test']);
    expect(seen.sort()).toEqual(['a', 'b', 'test']);
    const [first, ...rest] = outcomes;
    expect(failed(first!) && first.error).toMatch(/smoke-a-s3\.log/);
    for (const r of rest) {
      if (failed(r)) throw new Error(`run ${r.fold} failed: ${r.error}`);
      expect(r.eer).toBeGreaterThanOrEqual(0);
      expect(r.eer).toBeLessThanOrEqual(1);
      const model = path.join(dir, 'models', `smoke-${r.fold}-s3`);
      const card = JSON.parse(await readFile(path.join(model, 'model-card.json'), 'utf8')) as { training: { seed: number; trainIdentities: number; valIdentities: number } };
      // The run's seed wins over the one in the shared flags; training saw exactly the run's identities.
      expect(card.training.seed).toBe(3);
      expect(card.training.trainIdentities + card.training.valIdentities).toBe(r.train.length);
      const verify = JSON.parse(await readFile(`${model}.verify.json`, 'utf8')) as { identities: number };
      expect(verify.identities).toBe(r.score.length);
    }
  }, 240_000);
});
