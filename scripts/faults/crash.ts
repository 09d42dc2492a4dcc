/**
 * Crash safety of the re-index: SIGKILL `npm run reindex` at random moments and check, after
 * every kill, that index/CURRENT still opens and verifies, and that the next run completes.
 *
 *   npx tsx scripts/faults/crash.ts [--kills 20] [--images 1000] [--seed 1] [--out bench/results]
 *
 * Each round changes the gallery (rewrites, additions, removals, an enrolment and now and then
 * a deletion through the store), starts the re-index as one plain `node --import tsx` process
 * (no wrapper that would outlive the kill), kills it after a random delay drawn between the
 * measured start-up time and the measured length of a whole run, inspects index/, then runs a
 * re-index to completion. Half the kills are aimed at the critical section instead: a few ms
 * after the run creates its temp snapshot folder. `npm run faults` runs it as its `kill` scenario;
 * run alone, it writes bench/results/index-crash.{json,md} (a row per kill).
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng } from '../../src/data/rng.js';
import { openSnapshot } from '../../src/index/live-snapshot.js';
import { readCurrent } from '../../src/index/snapshot.js';
import { GalleryStore } from '../../src/index/store.js';
import { syntheticPng, writeSyntheticGallery, writeTinyModel } from '../../test/fixtures/gallery.js';
import { writeResults } from '../bench/common.js';
import { RESULTS_DIR } from '../bench/context.js';
import { assembleBenchmarksDoc } from '../bench/index-page.js';
import { reindex } from './reindex-process.js';

export interface CrashOptions {
  kills: number;
  /** Gallery size (identities of 5 images). */
  images: number;
  seed: number;
  /** Working folder (default: a new temp folder). */
  workDir?: string;
  log?: (line: string) => void;
}

export interface KillRecord {
  round: number;
  /** `uniform`: delayMs after spawn; `write`: delayMs after the snapshot's temp folder appeared. */
  strategy: 'uniform' | 'write';
  delayMs: number;
  /** The child had already exited when the kill came. */
  finishedFirst: boolean;
  /** CURRENT after the kill: unchanged, or switched to the new snapshot. */
  current: 'unchanged' | 'switched';
  /** Leftovers of the killed run found in index/ before the next run cleaned them. */
  leftovers: string[];
  /** CURRENT verified (checksums, dimension, metric, graph vs vectors). */
  verified: boolean;
  /** The next, uninterrupted run's exit code and summary line. */
  nextExit: number;
  nextSummary: string;
}

export interface CrashResult {
  kills: number;
  images: number;
  startupMs: number;
  fullRunMs: number;
  records: KillRecord[];
  allVerified: boolean;
  allCompleted: boolean;
}

/** Changes a few images: rewrites ~3%, adds ~2%, removes ~1%, enrols one, sometimes deletes an identity. */
async function mutate(root: string, store: GalleryStore, rng: ReturnType<typeof createRng>, round: number): Promise<void> {
  const identities = (await readdir(root)).filter((d) => !d.startsWith('.'));
  const files = (await Promise.all(identities.map(async (id) => (await readdir(join(root, id))).map((f) => join(root, id, f))))).flat();
  const n = files.length;
  for (let i = 0; i < Math.max(1, Math.round(n * 0.03)); i++) await writeFile(files[rng.int(n)], await syntheticPng(1e6 + round * 1000 + i));
  for (let i = 0; i < Math.max(1, Math.round(n * 0.02)); i++) {
    await writeFile(join(root, identities[rng.int(identities.length)], `r${round}-${i}.png`), await syntheticPng(2e6 + round * 1000 + i));
  }
  for (let i = 0; i < Math.max(1, Math.round(n * 0.01)); i++) await rm(files[rng.int(n)], { force: true });
  await store.enrol(`enrolled-${round}`, [await syntheticPng(3e6 + round)]);
  if (round % 4 === 3) await store.deleteIdentity(`enrolled-${round - 1}`);
}

/**
 * @example
 * const result = await runCrashTest({ kills: 3, images: 60, seed: 1 });
 * result.allVerified && result.allCompleted; // true
 */
export async function runCrashTest(options: CrashOptions): Promise<CrashResult> {
  const log = options.log ?? (() => {});
  const work = options.workDir ?? (await mkdtemp(join(tmpdir(), 'index-crash-')));
  await mkdir(work, { recursive: true });
  const root = join(work, 'gallery');
  const indexDir = join(work, 'index');
  const modelDir = join(work, 'model');
  const card = await writeTinyModel(modelDir, { seed: options.seed });
  await writeSyntheticGallery(root, Math.max(2, Math.round(options.images / 5)), 5, options.seed * 10_000);
  const store = new GalleryStore(root);
  const args = ['--model', modelDir, '--gallery', root, '--out', indexDir, '--workers', '0', '--backend', 'wasm', '--no-progress'];
  const expect = { dim: card.embeddingSize, metric: card.metric, modelId: card.modelId };
  const rng = createRng(options.seed);

  const first = await reindex(args);
  if (first.code !== 0) throw new Error(`initial build failed: ${first.stderr}`);
  // Start-up cost: a run that fails right after loading every module (the model is missing).
  const startup = await reindex(['--model', join(work, 'missing-model'), ...args.slice(2)]);
  await mutate(root, store, rng, 0);
  const full = await reindex(args);
  if (full.code !== 0) throw new Error(`timing run failed: ${full.stderr}`);
  log(`start-up ${startup.ms.toFixed(0)} ms, whole run ${full.ms.toFixed(0)} ms`);

  const records: KillRecord[] = [];
  for (let round = 1; round <= options.kills; round++) {
    await mutate(root, store, rng, round);
    const before = await readCurrent(indexDir);
    // Odd rounds: anywhere in the run. Even rounds: within 0-30 ms of the snapshot write starting.
    const targeted = round % 2 === 0;
    const delayMs = targeted ? Math.round(rng.next() * 30) : Math.round(startup.ms * 0.8 + rng.next() * (full.ms * 1.1 - startup.ms * 0.8));
    const killed = await reindex(args, targeted ? { afterTempDirMs: delayMs, indexDir } : { afterMs: delayMs });
    const after = await readCurrent(indexDir);
    const leftovers = (await readdir(indexDir)).filter((f) => f.startsWith('.') && f !== '.lock' ? true : f === '.lock');
    let verified = false;
    try {
      await openSnapshot(indexDir, { expect });
      verified = true;
    } catch (error) {
      log(`round ${round}: CURRENT does not verify: ${(error as Error).message}`);
    }
    const next = await reindex(args);
    if (next.code === 0) await openSnapshot(indexDir, { expect }); // the completed run's snapshot verifies too
    const record: KillRecord = {
      round,
      strategy: targeted ? 'write' : 'uniform',
      delayMs,
      finishedFirst: !killed.killed,
      current: after === before ? 'unchanged' : 'switched',
      leftovers,
      verified,
      nextExit: next.code ?? -1,
      nextSummary: next.stdout.trim() || next.stderr.trim(),
    };
    records.push(record);
    log(`round ${round}: kill ${targeted ? `${delayMs} ms into the snapshot write` : `at ${delayMs} ms`}${record.finishedFirst ? ' (finished first)' : ''}, CURRENT ${record.current}, leftovers [${leftovers.join(', ')}], verified ${verified}, next run exit ${record.nextExit}`);
  }
  if (!options.workDir) await rm(work, { recursive: true, force: true });
  return {
    kills: options.kills,
    images: options.images,
    startupMs: Math.round(startup.ms),
    fullRunMs: Math.round(full.ms),
    records,
    allVerified: records.every((r) => r.verified),
    allCompleted: records.every((r) => r.nextExit === 0),
  };
}

export function crashMarkdown(result: CrashResult): string {
  const killedIn = result.records.filter((r) => !r.finishedFirst);
  const lines = [
    `# Re-index crash safety (${result.kills} SIGKILLs, ${result.images}-image gallery)`,
    '',
    `Start-up ${result.startupMs} ms, uninterrupted run ${result.fullRunMs} ms. Odd rounds kill at a uniform moment between the two;`,
    'even rounds kill 0-30 ms after the run created its temp snapshot folder (write, rename, CURRENT switch, prune).',
    '',
    `- killed mid-run: ${killedIn.length}; finished before the kill: ${result.kills - killedIn.length}`,
    `- CURRENT switched by a killed run (killed after the switch): ${killedIn.filter((r) => r.current === 'switched').length}`,
    `- CURRENT verified after every kill: **${result.allVerified}**; next run completed every time: **${result.allCompleted}**`,
    '',
    '| round | kill | ms | finished first | CURRENT | leftovers | verified | next run |',
    '|---:|---|---:|:---:|:---:|---|:---:|---|',
    ...result.records.map((r) => `| ${r.round} | ${r.strategy === 'write' ? 'after write began' : 'after spawn'} | ${r.delayMs} | ${r.finishedFirst ? 'yes' : ''} | ${r.current} | ${r.leftovers.join(' ')} | ${r.verified} | ${r.nextExit === 0 ? 'ok' : `exit ${r.nextExit}`} |`),
  ];
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      kills: { type: 'string', default: '20' },
      images: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      out: { type: 'string', default: RESULTS_DIR },
    },
  });
  const result = await runCrashTest({ kills: Number(values.kills), images: Number(values.images), seed: Number(values.seed), log: (l) => console.log(l) });
  const files = await writeResults(values.out as string, 'index-crash', result, crashMarkdown(result));
  console.log(crashMarkdown(result));
  console.log(`wrote ${files.join(', ')}`);
  if (resolve(values.out as string) === RESULTS_DIR) await assembleBenchmarksDoc();
  if (!result.allVerified || !result.allCompleted) process.exitCode = 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
