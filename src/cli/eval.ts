/**
 * `npm run eval -- omniglot --model DIR --runs DIR [--fresh N --seed S] [--json FILE] [--report FILE]`
 * `npm run eval -- verify --model DIR --data DIR [--json FILE] [--report FILE]`
 */
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { defaultOneShotRunsDir, readOneShotRuns } from '../data/omniglot.js';
import { initBackend, parseBackendPreference } from '../model/backend.js';
import { loadModel, readModelCard } from '../model/io.js';
import { isFaceCard, type ModelCard } from '../model/card.js';
import { openEmbedder } from '../embedding/open.js';
import { writeFileAtomic } from '../util/atomic.js';
import { evaluateOneShot, runSpread } from '../eval/omniglot.js';
import { drawFreshRuns, readEvaluationListing, readStandardRunSources } from '../data/omniglot-fresh.js';
import { evaluateFaceVerification, evaluateVerification } from '../eval/verify.js';
import { oneShotReport, verifyReport } from '../eval/report.js';
import { parseFarList, parseNonNegativeInteger, say } from './common.js';

async function writeOutputs(result: unknown, report: string, flags: { json?: string; report?: string }): Promise<void> {
  if (flags.json) await writeFileAtomic(flags.json, `${JSON.stringify(result, null, 2)}\n`);
  if (flags.report) await writeFileAtomic(flags.report, report);
}

const command = `npm run eval -- ${process.argv.slice(2).join(' ')}`;

export function evalCommand(): Command {
  const program = new Command('eval').description('Evaluate a trained twin network.');
  program
    .command('omniglot')
    .description('20-way within-alphabet one-shot accuracy on the 20 standard Omniglot runs')
    .requiredOption('--model <dir>', 'model directory')
    .option('--runs <dir>', 'all_runs directory', defaultOneShotRunsDir())
    .option('--tta', 'test-time augmentation: average embeddings over one-pixel shifts', false)
    .option('--fresh <n>', 'also score n fresh runs drawn like the standard ones from images_evaluation (none of their images), reported next to them', parseNonNegativeInteger, 0)
    .option('--seed <n>', 'seed of the fresh runs', parseNonNegativeInteger, 1)
    .option('--json <file>', 'write the result as JSON')
    .option('--report <file>', 'write a markdown report')
    .option('--backend <name>', 'tfjs backend')
    .action(async (f: { model: string; runs: string; tta: boolean; fresh: number; seed: number; json?: string; report?: string; backend?: string }) => {
      await initBackend({ preference: parseBackendPreference(f.backend) });
      const { tower, card } = await loadModel(f.model);
      const result = await evaluateOneShot(tower, card, await readOneShotRuns(f.runs), { tta: f.tta });
      for (const r of result.runs) say(`${r.run}: ${r.correct}/${r.total}`);
      const line = (label: string, r: typeof result) => {
        const s = runSpread(r);
        say(`${label}: ${(r.accuracy * 100).toFixed(2)}% (${r.correct}/${r.total}), per run ${(s.min * 100).toFixed(0)}-${(s.max * 100).toFixed(0)}% (sd ${(s.std * 100).toFixed(1)} points)`);
      };
      line(`one-shot accuracy, ${result.runs.length} standard runs`, result);
      let fresh: { seed: number; result: typeof result } | undefined;
      if (f.fresh > 0) {
        const evaluation = join(f.runs, '..', '..', 'images_evaluation');
        const runs = drawFreshRuns(await readEvaluationListing(evaluation), f.fresh, f.seed, await readStandardRunSources(join(f.runs, '..', 'all_runs_sources.txt')));
        fresh = { seed: f.seed, result: await evaluateOneShot(tower, card, runs, { tta: f.tta }) };
        line(`one-shot accuracy, ${f.fresh} fresh runs (seed ${f.seed})`, fresh.result);
      }
      const json = { model: f.model, modelId: card.modelId, tta: f.tta, ...result, spread: runSpread(result), ...(fresh ? { fresh: { seed: fresh.seed, ...fresh.result, spread: runSpread(fresh.result) } } : {}) };
      await writeOutputs(json, oneShotReport(result, { model: f.model, modelId: card.modelId, command }, fresh), f);
      process.stdout.write(`${JSON.stringify({ accuracy: result.accuracy, ...(fresh ? { freshAccuracy: fresh.result.accuracy } : {}) })}\n`);
    });
  program
    .command('verify')
    .description('ROC-AUC, EER, TAR@FAR, rank-1, P@1 and MAP@R on a gallery of identities')
    .requiredOption('--model <dir>', 'model directory')
    .requiredOption('--data <dir>', 'gallery root (e.g. identities unseen in training)')
    .option('--include-identities <regex>', 'evaluate only identities whose name matches')
    .option('--exclude-identities <regex>', 'leave out identities whose name matches')
    .option('--far <list>', 'FARs to report TAR at', parseFarList, [1e-2, 1e-3])
    .option('--bootstrap <n>', 'identity-bootstrap resamples for a 95% interval of the EER (0: off)', parseNonNegativeInteger, 1000)
    .addOption(new Option('--tta <views>', 'test-time augmentation: flip (image + its mirror), shift (one-pixel shifts), or mirror (shifts + their mirrors)').choices(['none', 'flip', 'shift', 'mirror']).default('none'))
    .option('--json <file>', 'write the result as JSON')
    .option('--report <file>', 'write a markdown report')
    .option('--backend <name>', 'tfjs backend')
    .action(async (f: { model: string; data: string; far: number[]; json?: string; report?: string; backend?: string; includeIdentities?: string; excludeIdentities?: string; tta: 'none' | 'flip' | 'shift' | 'mirror'; bootstrap: number }) => {
      const options = {
        fars: f.far,
        tta: f.tta,
        bootstrap: f.bootstrap,
        include: f.includeIdentities ? new RegExp(f.includeIdentities) : undefined,
        exclude: f.excludeIdentities ? new RegExp(f.excludeIdentities) : undefined,
      };
      const faceCard = await readModelCard(f.model);
      let result: Awaited<ReturnType<typeof evaluateVerification>>;
      let card: ModelCard;
      if (isFaceCard(faceCard)) {
        // A face model is described as the server describes it: face stage + tower, on worker threads.
        const embedder = await openEmbedder(f.model, { workers: 2, backend: parseBackendPreference(f.backend) });
        try {
          const faces = await evaluateFaceVerification(embedder, faceCard, f.data, options);
          if (faces.noFace.length) say(`no face found in ${faces.noFace.length} photos, left out: ${faces.noFace.join(', ')}`);
          result = faces;
        } finally {
          await embedder.close();
        }
        card = faceCard;
      } else {
        await initBackend({ preference: parseBackendPreference(f.backend) });
        const loaded = await loadModel(f.model);
        card = loaded.card;
        result = await evaluateVerification(loaded.tower, card, f.data, options);
      }
      say(
        `AUC ${result.auc.toFixed(4)}, EER ${(result.eer * 100).toFixed(2)}%${result.eerInterval ? ` (${result.eerInterval.level * 100}% of panels: ${(result.eerInterval.low * 100).toFixed(1)}-${(result.eerInterval.high * 100).toFixed(1)}%)` : ''}, rank-1 ${(result.rank1 * 100).toFixed(2)}%, MAP@R ${result.mapAtR.toFixed(4)}, ` +
          Object.entries(result.tarAtFar).map(([far, tar]) => `TAR@FAR${far} ${(tar * 100).toFixed(2)}%`).join(', '),
      );
      await writeOutputs({ model: f.model, modelId: card.modelId, ...result }, verifyReport(result, { model: f.model, modelId: card.modelId, data: f.data, command }), f);
      process.stdout.write(`${JSON.stringify({ auc: result.auc, eer: result.eer, rank1: result.rank1, mapAtR: result.mapAtR, tarAtFar: result.tarAtFar })}\n`);
    });
  return program;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  evalCommand()
    .parseAsync(process.argv.slice(2), { from: 'user' })
    .catch((err: unknown) => {
      say(`eval: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
}
