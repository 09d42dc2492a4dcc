/** Evaluation: the one-shot scorer on the real Omniglot runs, and the markdown reports. */
import { beforeAll, describe, expect, it } from 'vitest';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultOneShotRunsDir, readOneShotRuns } from '../src/data/omniglot.js';
import { initBackend } from '../src/model/backend.js';
import { buildTower } from '../src/model/tower.js';
import { DEFAULT_PREPROCESS, DEFAULT_TOWER } from '../src/model/config.js';
import type { ModelCard } from '../src/model/card.js';
import { evaluateOneShot, nearest } from '../src/eval/omniglot.js';
import { oneShotReport } from '../src/eval/report.js';

describe('nearest', () => {
  it('returns the index of the closest candidate row', () => {
    const candidates = Float32Array.from([0, 0, 5, 5, 1, 1]);
    expect(nearest(Float32Array.from([0.9, 1.2]), candidates, 2)).toBe(2);
    expect(nearest(Float32Array.from([4, 6]), candidates, 2)).toBe(1);
  });
});

const runsDir = defaultOneShotRunsDir();
const haveRuns = await access(runsDir).then(
  () => true,
  () => false,
);

describe.skipIf(!haveRuns)('evaluateOneShot on the standard runs', () => {
  beforeAll(async () => {
    await initBackend({ preference: 'wasm', log: () => {} });
  });

  it('scores every test item of every run once and reports per-run accuracy', async () => {
    const runs = (await readOneShotRuns(runsDir)).slice(0, 2);
    const preprocess = { ...DEFAULT_PREPROCESS, invert: true };
    const tower = buildTower(DEFAULT_TOWER, preprocess, 1);
    const card = { preprocess, tower: DEFAULT_TOWER, embeddingSize: DEFAULT_TOWER.embeddingSize } as unknown as ModelCard;
    const result = await evaluateOneShot(tower, card, runs);
    expect(result.total).toBe(40);
    expect(result.runs.map((r) => r.run)).toEqual(['run01', 'run02']);
    expect(result.accuracy).toBeCloseTo(result.correct / 40);
    // An untrained tower still beats chance (1/20) by far less than a trained one; it must not be perfect.
    expect(result.accuracy).toBeLessThan(0.9);
    const md = oneShotReport(result, { model: 'x', modelId: 'random', command: 'test' });
    expect(md).toContain('Siamese Neural Net (Koch et al. 2015) | 92.00%');
    expect(md).toContain('| run02 |');
    expect(md).not.toContain('fresh');
    tower.dispose();
  }, 60_000);

  it('scores fresh runs next to the standard ones, with the per-run spread of each', async () => {
    const { drawFreshRuns, readEvaluationListing, readStandardRunSources } = await import('../src/data/omniglot-fresh.js');
    const { runSpread } = await import('../src/eval/omniglot.js');
    const standard = (await readOneShotRuns(runsDir)).slice(0, 2);
    const fresh = drawFreshRuns(await readEvaluationListing(join(runsDir, '..', '..', 'images_evaluation')), 3, 11, await readStandardRunSources(join(runsDir, '..', 'all_runs_sources.txt')));
    const preprocess = { ...DEFAULT_PREPROCESS, invert: true };
    const tower = buildTower(DEFAULT_TOWER, preprocess, 1);
    const card = { preprocess, tower: DEFAULT_TOWER, embeddingSize: DEFAULT_TOWER.embeddingSize } as unknown as ModelCard;
    const a = await evaluateOneShot(tower, card, standard);
    const b = await evaluateOneShot(tower, card, fresh);
    expect(b.runs.map((r) => r.run)).toEqual(['fresh01', 'fresh02', 'fresh03']);
    expect(b.total).toBe(60);
    const spread = runSpread(b);
    expect(spread.min).toBe(Math.min(...b.runs.map((r) => r.accuracy)));
    expect(spread.max).toBe(Math.max(...b.runs.map((r) => r.accuracy)));
    const md = oneShotReport(a, { model: 'x', modelId: 'random', command: 'test' }, { seed: 11, result: b });
    expect(md).toContain(`| 3 fresh (seed 11) | ${(b.accuracy * 100).toFixed(2)}% |`);
    expect(md).toContain('| 2 standard |');
    expect(md).toContain('| fresh03 |');
    tower.dispose();
  }, 60_000);
});

describe('runSpread', () => {
  it('is the sample standard deviation, lowest and highest per-run accuracy', async () => {
    const { runSpread } = await import('../src/eval/omniglot.js');
    const runs = [0.8, 1, 0.9].map((accuracy, i) => ({ run: `r${i}`, correct: 0, total: 20, accuracy }));
    const spread = runSpread({ runs });
    expect(spread.std).toBeCloseTo(0.1, 12);
    expect(spread).toMatchObject({ min: 0.8, max: 1 });
    expect(runSpread({ runs: [] })).toEqual({ std: 0, min: 0, max: 0 });
  });
});

describe('oneShotReport', () => {
  /** The rows of the report's method table, as [method, accuracy in %]. */
  const methodRows = (md: string): Array<[string, number]> =>
    md.split('\n').flatMap((line): Array<[string, number]> => {
      const cells = /^\| ([^|]+) \| (\d+\.\d\d)% \|$/.exec(line);
      return cells ? [[cells[1]!, Number(cells[2])]] : [];
    });

  it('ranks the model among the methods of Koch et al. 2015 Table 2, best first, each with its published accuracy', () => {
    const result = { accuracy: 0.9, correct: 36, total: 40, runs: [{ run: 'run01', correct: 18, total: 20, accuracy: 0.9 }, { run: 'run02', correct: 18, total: 20, accuracy: 0.9 }] };
    const rows = methodRows(oneShotReport(result, { model: 'models/omniglot', modelId: 'omniglot-0123', command: 'npm run eval -- omniglot' }));
    // The paper's Table 2, typed from the paper: the report must carry each method at its published accuracy.
    expect(rows).toEqual([
      ['Humans', 95.5],
      ['Hierarchical Bayesian Program Learning', 95.2],
      ['Siamese Neural Net (Koch et al. 2015)', 92],
      ['**twinsearch** (omniglot-0123)', 90],
      ['Affine model', 81.8],
      ['Hierarchical Deep', 65],
      ['Deep Boltzmann Machine', 62],
      ['Simple Stroke', 35.4],
      ['1-Nearest Neighbor (pixels)', 21.7],
    ]);
  });
});

describe('test-time augmentation', () => {
  it('averages the views into unit vectors, and a single identity view equals plain embedding', async () => {
    const { embedWithViews, shiftViews } = await import('../src/eval/tta.js');
    const { embedImageSetAsync } = await import('../src/model/embed.js');
    const { IDENTITY_AFFINE } = await import('../src/data/augment.js');
    await initBackend({ preference: 'wasm', log: () => {} });
    const tower = buildTower(DEFAULT_TOWER, DEFAULT_PREPROCESS, 3);
    const data = Float32Array.from({ length: 3 * 28 * 28 }, (_, i) => ((i * 7919) % 97) / 97);
    const plain = await embedImageSetAsync(tower, data, 3, [28, 28, 1], { l2Normalize: true });
    const single = await embedWithViews(tower, data, 3, [28, 28, 1], { l2Normalize: true }, [IDENTITY_AFFINE]);
    expect(Math.max(...single.map((v, i) => Math.abs(v - plain[i]!)))).toBeLessThan(1e-6);
    const tta = await embedWithViews(tower, data, 3, [28, 28, 1], { l2Normalize: true }, shiftViews(28, 28));
    const norm = Math.hypot(...tta.subarray(0, 64));
    expect(norm).toBeCloseTo(1, 5);
    expect(tta).not.toEqual(plain);
    tower.dispose();
  });

  it("eval's flip views (an affine warp) embed exactly as a model with flipAverage serves", async () => {
    const { embedWithViews, flipViews } = await import('../src/eval/tta.js');
    const { embedImageSetAsync } = await import('../src/model/embed.js');
    await initBackend({ preference: 'wasm', log: () => {} });
    const tower = buildTower(DEFAULT_TOWER, { ...DEFAULT_PREPROCESS, width: 24, height: 28 }, 5);
    const data = Float32Array.from({ length: 2 * 28 * 24 }, (_, i) => ((i * 7919) % 97) / 97);
    const served = await embedImageSetAsync(tower, data, 2, [28, 24, 1], { l2Normalize: true, flipAverage: true });
    const viewed = await embedWithViews(tower, data, 2, [28, 24, 1], { l2Normalize: true }, flipViews());
    expect(Math.max(...viewed.map((v, i) => Math.abs(v - served[i]!)))).toBeLessThan(1e-5);
    tower.dispose();
  });
});

describe('evaluateFaceVerification', () => {
  it('scores the faces the embedder describes and lists the photos without one', async () => {
    const { mkdtemp, mkdir, writeFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { evaluateFaceVerification } = await import('../src/eval/verify.js');
    const dir = await mkdtemp(join(tmpdir(), 'face-verify-'));
    try {
      for (const person of ['a', 'b', 'c']) {
        await mkdir(join(dir, person));
        for (const photo of [1, 2, 3]) await writeFile(join(dir, person, `${photo}.png`), 'png');
      }
      // Each person's photos near their own axis; b/2.png has no face.
      const dim = 4;
      const embedder = {
        embedAll: async (files: readonly (string | Uint8Array)[]) => {
          const vectors = new Float32Array(files.length * dim);
          const failed: { index: number; reason: string }[] = [];
          files.forEach((file, i) => {
            const name = String(file);
            if (name.endsWith(join('b', '2.png'))) failed.push({ index: i, reason: 'no face found' });
            const axis = ['a', 'b', 'c'].findIndex((p) => name.includes(join(dir, p)));
            vectors[i * dim + axis] = 1;
            vectors[i * dim + 3] = i * 0.01;
          });
          return { vectors, failed, faces: { none: failed.map((f) => f.index), several: [] } };
        },
      };
      const card = { embeddingSize: dim, thresholds: { default: 0.5 } } as unknown as ModelCard;
      const result = await evaluateFaceVerification(embedder, card, dir);
      expect(result.noFace).toEqual([join('b', '2.png')]);
      expect(result.images).toBe(8);
      expect(result.pairs.same).toBe(3 + 1 + 3);
      expect(result.eer).toBe(0);
      expect(result.rank1).toBe(1);
      expect(result.atModelThreshold).toMatchObject({ far: 0, tar: 1 });
      await expect(evaluateFaceVerification(embedder, card, dir, { tta: 'flip' })).rejects.toThrow(/--tta/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
