/**
 * `npm run bench -- open-set`: the match / unknown decision as a user meets it. A gallery of AT&T
 * people (s1-s30, photos 1-5) is made into a face model with `--preset faces` (calibrated on that
 * gallery alone), indexed and served; then their other photos (6-10) and every photo of people left
 * out (s31-s40) are searched through POST /v1/search at the server's default threshold. Known
 * photos must be matched to the right person (target >= 97%), strangers to nobody (target <= 1%).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { datasetsDir } from '../../src/data/datasets.js';
import { openEmbedder } from '../../src/embedding/open.js';
import { runIndex } from '../../src/index/reindex.js';
import { GalleryStore } from '../../src/index/store.js';
import { createRuntime } from '../../src/api/runtime.js';
import { silentLogger } from '../../src/api/log.js';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/train/options.js';
import { buildFaceModel } from '../../src/train/faces.js';
import { describeOpenSet } from '../../src/train/open-set.js';
import { RESULTS_DIR, sectionContext, sectionHeader } from './context.js';
import { table, writeResults } from './common.js';

export interface OpenSetBenchOptions {
  /** AT&T folder (s1..s40/N.png). */
  data: string;
  /** Gallery people s1..sN. */
  people: number;
  /** Gallery photos 1..K of each; the rest (K+1..10) are the known probes. */
  galleryPhotos: number;
  /** Strangers: s(first)..s(first+count-1), every photo. */
  strangers: { first: number; count: number };
  workers: number;
  out: string;
  command: string;
  log?: (message: string) => void;
}

export interface OpenSetBenchResult {
  gallery: { identities: number; photos: number };
  threshold: { value: number; source: string; fpir: number | null; tir: number | null; warning: string | null };
  /** `noFace`: answered 422 NO_FACE (no face found in the photo): a miss for a known person, not a match for a stranger. `errors`: any other failure. */
  known: { probes: number; matchedRight: number; matchedWrong: number; unknown: number; noFace: number; errors: number; rate: number; misses: string[] };
  strangers: { probes: number; matched: number; noFace: number; errors: number; rate: number; matchedTo: Array<{ probe: string; identity: string; distance: number }>; failures: string[] };
  /** Met when known >= 97% and strangers <= 1%, with no answer other than a decision or NO_FACE. */
  targets: { known: number; strangers: number; met: boolean };
  seconds: { model: number; index: number; search: number };
}

const PHOTOS_PER_PERSON = 10;

/**
 * Runs the benchmark and writes `open-set.json` / `open-set.md` into `options.out`.
 *
 * @example
 * const result = await runOpenSetBench({ data: '../shared/datasets/att-faces', people: 30, galleryPhotos: 5, strangers: { first: 31, count: 10 }, workers: 2, out: 'bench/results', command });
 */
export async function runOpenSetBench(options: OpenSetBenchOptions): Promise<OpenSetBenchResult> {
  const log = options.log ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), 'twinsearch-open-set-'));
  const context = sectionContext(options.command);
  try {
    const galleryDir = join(dir, 'gallery');
    const modelDir = join(dir, 'model');
    const indexDir = join(dir, 'index');
    for (let p = 1; p <= options.people; p++) {
      await mkdir(join(galleryDir, `s${p}`), { recursive: true });
      for (let photo = 1; photo <= options.galleryPhotos; photo++) await copyFile(join(options.data, `s${p}`, `${photo}.png`), join(galleryDir, `s${p}`, `${photo}.png`));
    }

    let started = performance.now();
    const { card } = await buildFaceModel({ ...DEFAULT_TRAIN_OPTIONS, data: galleryDir, out: modelDir, workers: options.workers }, { log });
    const modelSeconds = (performance.now() - started) / 1000;
    log(describeOpenSet(card.thresholds.openSet!));

    started = performance.now();
    const embedder = await openEmbedder(modelDir, { workers: options.workers });
    try {
      await runIndex({ indexDir, store: new GalleryStore(galleryDir), embedder, mode: 'build' });
    } finally {
      await embedder.close();
    }
    const indexSeconds = (performance.now() - started) / 1000;

    const key = randomBytes(16).toString('hex');
    const runtime = await createRuntime({ MODEL_DIR: modelDir, INDEX_DIR: indexDir, GALLERY_DIR: galleryDir, API_KEYS: key, EMBED_WORKERS: String(options.workers), WATCH_INDEX: 'false', RELOAD_POLL_MS: '0', LOG_LEVEL: 'silent' }, { log: silentLogger });
    started = performance.now();
    const search = async (file: string) => {
      const res = await runtime.app.request('/v1/search', { method: 'POST', body: new Uint8Array(await readFile(file)), headers: { authorization: `Bearer ${key}` } });
      return { status: res.status, body: (await res.json()) as { decision?: { identity: string; match: boolean; distance: number | null }; threshold?: { value: number; openSet?: { fpir: number; tir: number; warning?: string } }; error?: { code: string } } };
    };
    const known: OpenSetBenchResult['known'] = { probes: 0, matchedRight: 0, matchedWrong: 0, unknown: 0, noFace: 0, errors: 0, rate: 0, misses: [] };
    const strangers: OpenSetBenchResult['strangers'] = { probes: 0, matched: 0, noFace: 0, errors: 0, rate: 0, matchedTo: [], failures: [] };
    let threshold: OpenSetBenchResult['threshold'] | undefined;
    try {
      // Searches one at a time: the decision is what is measured here, not throughput.
      for (let p = 1; p <= options.people; p++) {
        for (let photo = options.galleryPhotos + 1; photo <= PHOTOS_PER_PERSON; photo++) {
          const probe = `s${p}/${photo}.png`;
          const { status, body } = await search(join(options.data, probe));
          known.probes++;
          if (status !== 200 || !body.decision) {
            if (body.error?.code === 'NO_FACE') known.noFace++;
            else known.errors++;
            known.misses.push(`${probe}: ${status} ${body.error?.code ?? ''}`.trim());
            continue;
          }
          threshold ??= { value: body.threshold!.value, source: card.thresholds.defaultSource as string, fpir: body.threshold!.openSet?.fpir ?? null, tir: body.threshold!.openSet?.tir ?? null, warning: body.threshold!.openSet?.warning ?? null };
          if (!body.decision.match) {
            known.unknown++;
            known.misses.push(`${probe}: unknown (nearest at ${body.decision.distance})`);
          } else if (body.decision.identity === `s${p}`) known.matchedRight++;
          else {
            known.matchedWrong++;
            known.misses.push(`${probe}: matched to ${body.decision.identity}`);
          }
        }
      }
      for (let p = options.strangers.first; p < options.strangers.first + options.strangers.count; p++) {
        for (let photo = 1; photo <= PHOTOS_PER_PERSON; photo++) {
          const probe = `s${p}/${photo}.png`;
          const { status, body } = await search(join(options.data, probe));
          strangers.probes++;
          if (status !== 200 || !body.decision) {
            if (body.error?.code === 'NO_FACE') strangers.noFace++;
            else strangers.errors++;
            strangers.failures.push(`${probe}: ${status} ${body.error?.code ?? ''}`.trim());
            continue;
          }
          if (body.decision.match) {
            strangers.matched++;
            strangers.matchedTo.push({ probe, identity: body.decision.identity, distance: body.decision.distance! });
          }
        }
      }
    } finally {
      await runtime.close();
    }
    known.rate = known.matchedRight / Math.max(1, known.probes);
    strangers.rate = strangers.matched / Math.max(1, strangers.probes);
    const result: OpenSetBenchResult = {
      gallery: { identities: options.people, photos: options.people * options.galleryPhotos },
      threshold: threshold ?? { value: card.thresholds.default, source: card.thresholds.defaultSource as string, fpir: null, tir: null, warning: null },
      known,
      strangers,
      targets: { known: 0.97, strangers: 0.01, met: known.rate >= 0.97 && strangers.rate <= 0.01 && known.errors + strangers.errors === 0 },
      seconds: { model: modelSeconds, index: indexSeconds, search: (performance.now() - started) / 1000 },
    };
    await writeResults(options.out, 'open-set', { options: { ...options, log: undefined }, ...result }, openSetMarkdown(result, context));
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(1)}%`);

function openSetMarkdown(r: OpenSetBenchResult, context: ReturnType<typeof sectionContext>): string {
  return [
    sectionHeader('open-set: match or unknown at the server\'s own threshold', context),
    `Gallery: ${r.gallery.identities} people, ${r.gallery.photos} photos, made into a model with \`--preset faces\` (calibrated on the gallery alone), indexed and served; every probe through \`POST /v1/search\` at the server's default threshold ${r.threshold.value.toFixed(4)} (${r.threshold.source}; calibration FPIR ${pct(r.threshold.fpir)}, TIR ${pct(r.threshold.tir)}).`,
    ...(r.threshold.warning ? ['', `Calibration warning: ${r.threshold.warning}`] : []),
    '',
    table([
      { probes: `known people, other photos`, count: r.known.probes, result: `matched to the right person: ${pct(r.known.rate)} (${r.known.matchedRight}); unknown ${r.known.unknown}; wrong person ${r.known.matchedWrong}; no face found ${r.known.noFace}; errors ${r.known.errors}`, target: '>= 97%' },
      { probes: `strangers (people left out)`, count: r.strangers.probes, result: `matched to someone: ${pct(r.strangers.rate)} (${r.strangers.matched}); no face found ${r.strangers.noFace}; errors ${r.strangers.errors}`, target: '<= 1%' },
    ]),
    '',
    `Targets ${r.targets.met ? 'met' : '**not met**'}. Model ${r.seconds.model.toFixed(0)} s, index ${r.seconds.index.toFixed(0)} s, searches ${r.seconds.search.toFixed(0)} s.`,
    ...(r.known.misses.length ? ['', `Known photos missed: ${r.known.misses.join('; ')}.`] : []),
    ...(r.strangers.failures.length ? ['', `Strangers not searched: ${r.strangers.failures.join('; ')}.`] : []),
    ...(r.strangers.matchedTo.length ? ['', `Strangers matched: ${r.strangers.matchedTo.map((m) => `${m.probe} → ${m.identity} (${m.distance.toFixed(3)})`).join('; ')}.`] : []),
    '',
  ].join('\n');
}

export function openSetBenchCommand(): Command {
  return new Command('open-set')
    .description('match / unknown through /v1/search: AT&T s1-s30 photos 1-5 as the gallery (faces preset), their photos 6-10 and s31-s40 as probes')
    .option('--data <dir>', 'AT&T faces', join(datasetsDir(), 'att-faces'))
    .option('--people <n>', 'gallery people s1..sN', (v) => Number(v), 30)
    .option('--gallery-photos <k>', 'gallery photos 1..K per person', (v) => Number(v), 5)
    .option('--strangers <n>', 'strangers: the n people after the gallery people', (v) => Number(v), 10)
    .option('--workers <n>', 'embedding worker threads', (v) => Number(v), 2)
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { data: string; people: number; galleryPhotos: number; strangers: number; workers: number; out: string }) => {
      const result = await runOpenSetBench({
        data: f.data, people: f.people, galleryPhotos: f.galleryPhotos, strangers: { first: f.people + 1, count: f.strangers }, workers: f.workers, out: f.out,
        command: `npm run bench -- open-set ${process.argv.slice(3).join(' ')}`.trim(), log: (m) => process.stderr.write(`${m}\n`),
      });
      process.stderr.write(`known matched right ${pct(result.known.rate)}, strangers matched ${pct(result.strangers.rate)} at threshold ${result.threshold.value.toFixed(4)}: targets ${result.targets.met ? 'met' : 'NOT met'}\n`);
    });
}
