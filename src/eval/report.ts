/** Markdown reports of evaluation results, with the published numbers they are compared against. */
import { runSpread, type OneShotResult } from './omniglot.js';
import type { IdentityErrors } from './identity-errors.js';
import type { VerifyResult } from './verify.js';

/** Koch, Zemel & Salakhutdinov 2015, Table 2: Omniglot 20-way within-alphabet one-shot accuracy. */
export const KOCH_2015_ONE_SHOT: ReadonlyArray<{ method: string; accuracy: number }> = [
  { method: 'Humans', accuracy: 0.955 },
  { method: 'Hierarchical Bayesian Program Learning', accuracy: 0.952 },
  { method: 'Affine model', accuracy: 0.818 },
  { method: 'Hierarchical Deep', accuracy: 0.65 },
  { method: 'Deep Boltzmann Machine', accuracy: 0.62 },
  { method: 'Simple Stroke', accuracy: 0.354 },
  { method: '1-Nearest Neighbor (pixels)', accuracy: 0.217 },
  { method: 'Siamese Neural Net (Koch et al. 2015)', accuracy: 0.92 },
];

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/**
 * @example
 * oneShotReport(result, { model: 'models/omniglot', command: 'npm run eval -- omniglot ...' });
 */
export function oneShotReport(result: OneShotResult, meta: { model: string; modelId: string; command: string }, fresh?: { seed: number; result: OneShotResult }): string {
  const rows = [...KOCH_2015_ONE_SHOT, { method: `**twinsearch** (${meta.modelId})`, accuracy: result.accuracy }].sort((a, b) => b.accuracy - a.accuracy);
  const spread = (r: OneShotResult) => {
    const s = runSpread(r);
    return `${pct(s.std)} | ${pct(s.min)}-${pct(s.max)}`;
  };
  const freshSection = fresh
    ? [
        '',
        '## Standard and fresh runs',
        '',
        `Fresh runs are drawn like the standard ones from \`images_evaluation\` (one alphabet, 20 characters, one drawer's drawings as examples and another's as items, drawers 01-08), share no image with them, and are fixed by the seed (${fresh.seed}).`,
        '',
        '| Runs | Accuracy | Per-run standard deviation | Lowest-highest run |',
        '|---|---|---|---|',
        `| ${result.runs.length} standard | ${pct(result.accuracy)} | ${spread(result)} |`,
        `| ${fresh.result.runs.length} fresh (seed ${fresh.seed}) | ${pct(fresh.result.accuracy)} | ${spread(fresh.result)} |`,
      ]
    : [];
  return [
    '# Omniglot 20-way one-shot classification',
    '',
    `Model: \`${meta.model}\`. Command: \`${meta.command}\`.`,
    '',
    `Nearest neighbour in embedding space over the 20 standard within-alphabet runs: **${pct(result.accuracy)}** (${result.correct}/${result.total}).`,
    '',
    '| Method | Accuracy |',
    '|---|---|',
    ...rows.map((r) => `| ${r.method} | ${pct(r.accuracy)} |`),
    '',
    'Published numbers: Koch, Zemel & Salakhutdinov, "Siamese Neural Networks for One-shot Image Recognition", ICML Deep Learning Workshop 2015, Table 2.',
    ...freshSection,
    '',
    '| Run | Correct | Accuracy |',
    '|---|---|---|',
    ...result.runs.map((r) => `| ${r.run} | ${r.correct}/${r.total} | ${pct(r.accuracy)} |`),
    ...(fresh ? fresh.result.runs.map((r) => `| ${r.run} | ${r.correct}/${r.total} | ${pct(r.accuracy)} |`) : []),
    '',
  ].join('\n');
}

export function verifyReport(result: VerifyResult, meta: { model: string; modelId: string; data: string; command: string }): string {
  return [
    '# Verification and identification',
    '',
    `Model: \`${meta.model}\` (${meta.modelId}). Gallery: \`${meta.data}\` (${result.identities} identities, ${result.images} images). Command: \`${meta.command}\`.`,
    '',
    '| Metric | Value |',
    '|---|---|',
    `| ROC-AUC | ${result.auc.toFixed(4)} |`,
    `| EER | ${pct(result.eer)} |`,
    ...(result.eerInterval ? [`| EER of other panels of ${result.identities} people (identity bootstrap, ${result.eerInterval.level * 100}%) | ${pct(result.eerInterval.low)} - ${pct(result.eerInterval.high)} |`] : []),
    ...Object.entries(result.tarAtFar).map(([far, tar]) => `| TAR @ FAR ${far} | ${pct(tar)} |`),
    `| At the model's threshold ${result.atModelThreshold.threshold.toFixed(4)} | FAR ${pct(result.atModelThreshold.far)}, TAR ${pct(result.atModelThreshold.tar)} |`,
    `| Rank-1 identification (leave-one-out) | ${pct(result.rank1)} |`,
    `| P@1 | ${pct(result.precisionAt1)} |`,
    `| R-Precision | ${result.rPrecision.toFixed(4)} |`,
    `| MAP@R | ${result.mapAtR.toFixed(4)} |`,
    '',
    `Pairs: ${result.pairs.same} same, ${result.pairs.different} different.`,
    '',
    ...identityErrorsSection(result.errorsAtEer),
  ].join('\n');
}

/** An identity's false-reject rate plus its false-accept rate: how it ranks in the report. */
const errorRates = (r: IdentityErrors): number => r.falseRejects / Math.max(1, r.samePairs) + r.falseAccepts / Math.max(1, r.differentPairs);

/** The identities with errors at the EER threshold, most errors first (all of them: a gallery owner acts on each). */
function identityErrorsSection(errors: VerifyResult['errorsAtEer']): string[] {
  const share = (part: number, whole: number): string => `${part}/${whole}${whole ? ` (${pct(part / whole)})` : ''}`;
  const rows = errors.identities
    .filter((r) => r.falseRejects + r.falseAccepts > 0)
    .sort((p, q) => errorRates(q) - errorRates(p));
  return [
    `## Errors by identity at the EER threshold (${errors.threshold.toFixed(4)})`,
    '',
    rows.length === 0
      ? 'No errors: every identity is separated at this threshold.'
      : ['| Identity | False rejects / same pairs | False accepts / different pairs | Most often taken for |', '|---|---|---|---|',
        ...rows.map((r) => `| ${r.identity} | ${share(r.falseRejects, r.samePairs)} | ${share(r.falseAccepts, r.differentPairs)} | ${r.mostConfusedWith ? `${r.mostConfusedWith.identity} (${r.mostConfusedWith.falseAccepts})` : '-'} |`)].join('\n'),
    '',
  ];
}
