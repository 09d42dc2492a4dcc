/**
 * `npm run bench -- s3-publish`: two serving processes on one index in object storage, each under
 * `/v1/search` load on its own connections, while a new snapshot is published; counts failed
 * requests (errors, non-2xx answers, requests left without an answer) and how long each instance
 * took to serve the new snapshot once CURRENT moved. Writes bench/results/s3-publish.{json,md}.
 *
 *   npm run bench -- s3-publish [--images 10000] [--connections 16] [--model DIR] [--work tmp/api-bench]
 *
 * Both snapshots are synthetic (s3-snapshots.ts), so every file of the new one is new: each
 * instance downloads, verifies and opens all of it while it serves.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { parsePositiveInteger } from '../../src/cli/common.js';
import { syntheticPng } from '../../test/fixtures/gallery.js';
import { freshPrefix } from '../../test/fixtures/s3.js';
import { loadWhile, type LoadOptions } from '../load/index.js';
import { writeWranglerConfig } from '../server/config.js';
import { stopProcess, type DevProcess } from '../server/dev.js';
import { table, writeResults } from './common.js';
import { REPO_ROOT, RESULTS_DIR, sectionContext, sectionHeader, suiteCommand, type SectionContext } from './context.js';
import { startServer } from './http/cold-start.js';
import { prepareModel } from './http/prepare.js';
import { KEY } from './http/types.js';
import { figures, served, type HttpRun } from './pgvector-http.js';
import { benchS3, publishToBucket, syntheticSnapshots } from './s3-snapshots.js';

/** An instance's load figures (failed: errors, non-2xx answers and requests that never got an answer), and the snapshots it served. */
export interface InstanceRun extends Omit<HttpRun, 'store'> {
  instance: string;
  before: string;
  after: string;
  /** CURRENT moved → this instance answered /v1/index with the new version (ms). */
  pickUpMs: number | null;
}

export interface S3PublishResult {
  context: SectionContext;
  model: string;
  images: number;
  pollMs: number;
  publishSeconds: number;
  instances: InstanceRun[];
}

export interface S3PublishOptions {
  images: number;
  connections: number;
  /** RELOAD_POLL_MS of the instances. */
  pollMs: number;
  work: string;
  model?: string;
  tiny?: boolean;
  s3?: { env: Record<string, string>; bucket: string };
  command?: string;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * @example
 * const r = await runS3PublishBench({ images: 10_000, connections: 16, pollMs: 1000, work: 'tmp/api-bench' });
 */
export async function runS3PublishBench(o: S3PublishOptions): Promise<S3PublishResult> {
  const log = o.log ?? (() => {});
  const context = sectionContext(o.command ?? 'npm run bench -- s3-publish');
  await mkdir(o.work, { recursive: true });
  const s3 = await benchS3(o.s3);
  const scratch = await mkdtemp(join(o.work, 's3-publish-'));
  const servers: DevProcess[] = [];
  const tmpdir = process.env.TMPDIR;
  // Assigning undefined to process.env would set the string "undefined".
  const restoreTmpdir = (): void => {
    if (tmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpdir;
  };
  try {
    const model = await prepareModel(o);
    const [first, second] = await syntheticSnapshots(o.work, model.dir, o.images, 2);
    const root = freshPrefix(s3.bucket, 'publish');
    const index = `${root}/index`;
    await publishToBucket(first.indexDir, first.version, index);
    const vars = { MODEL_DIR: model.dir, INDEX_DIR: index, GALLERY_DIR: `${root}/gallery`, LOG_LEVEL: 'error', WATCH_INDEX: 'false', RELOAD_POLL_MS: String(o.pollMs) };
    const config = await writeWranglerConfig(join(scratch, 'server'), 'twinsearch-bench', vars, { API_KEYS: KEY });
    const query = await syntheticPng(424_242);
    const urls: string[] = [];
    for (const name of ['a', 'b']) {
      // Each instance its own scratch space, as on separate machines.
      process.env.TMPDIR = await mkdtemp(join(scratch, `tmp-${name}-`));
      const { dev, url } = await startServer(config, 0, query);
      servers.push(dev);
      urls.push(url);
    }
    restoreTmpdir();
    const before = await Promise.all(urls.map(served));
    const load = (url: string): LoadOptions => ({ url, connections: o.connections, requests: [{ method: 'POST', path: '/v1/search', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'image/png' }, body: query }] });
    let publishSeconds = 0;
    const pickUpMs: (number | null)[] = [null, null];
    /** Two seconds of load, the publish, until both serve the new snapshot (or 60 s), one more second of load. */
    const publishAndWait = async (): Promise<void> => {
      await sleep(2000);
      log(`publishing ${second.version} while both instances serve ${before.join(', ')}`);
      publishSeconds = await publishToBucket(second.indexDir, second.version, index);
      const moved = performance.now();
      while (pickUpMs.some((x) => x === null) && performance.now() - moved < 60_000) {
        const now = await Promise.all(urls.map(served));
        now.forEach((v, i) => {
          if (v === second.version && pickUpMs[i] === null) pickUpMs[i] = Math.round(performance.now() - moved);
        });
        await sleep(25);
      }
      await sleep(1000);
    };
    log(`/v1/search at ${o.connections} connections on each of 2 instances`);
    const a = await loadWhile(load(urls[0]), async () => (await loadWhile(load(urls[1]), publishAndWait)).load);
    const results = [a.load, a.value];
    const after = await Promise.all(urls.map(served));
    return {
      context,
      model: model.source,
      images: o.images,
      pollMs: o.pollMs,
      publishSeconds: Math.round(publishSeconds * 100) / 100,
      instances: results.map((r, i) => ({ instance: ['a', 'b'][i], ...figures(o.connections, r, true), before: before[i], after: after[i], pickUpMs: pickUpMs[i] })),
    };
  } finally {
    restoreTmpdir();
    await Promise.all(servers.map((s) => stopProcess(s.child)));
    await rm(scratch, { recursive: true, force: true });
    await s3.stop();
  }
}

export function s3PublishMarkdown(r: S3PublishResult): string {
  return [
    sectionHeader('s3-publish: two serving instances under load while a snapshot is published to object storage', r.context),
    `Model: ${r.model}. Two \`npm run dev\` server processes (EMBED_WORKERS=0, RELOAD_POLL_MS=${r.pollMs}, each its own scratch space) on one index in object storage`,
    `(test/s3-server: miniflare's local R2 over the S3 API, loopback), each loaded with \`POST /v1/search\` on its own connections. Two seconds in, a new`,
    `${r.images.toLocaleString('en-US')}-vector synthetic snapshot (every file new) is published with the index job's conditional publish (${r.publishSeconds} s);`,
    'the load goes on until both instances serve it, plus one second, then the connections drain. Failed = errors + non-2xx + requests left unanswered.',
    '',
    table(r.instances.map((x) => ({
      instance: x.instance,
      connections: x.connections,
      requests: x.requests,
      'req/s': x.rps,
      'p50 ms': x.p50,
      'p99 ms': x.p99,
      failed: x.failed,
      'CURRENT moved → serving it, ms': x.pickUpMs ?? 'not within 60 s',
      'served before → after': `${x.before} → ${x.after}`,
    }))),
    '',
  ].join('\n');
}

export function s3PublishBenchCommand(): Command {
  return new Command('s3-publish')
    .description('failed requests on two serving instances while a snapshot is published to object storage')
    .option('--images <n>', 'snapshot size (synthetic vectors)', parsePositiveInteger, 10_000)
    .option('--connections <n>', 'connections per instance', parsePositiveInteger, 16)
    .option('--poll-ms <n>', 'RELOAD_POLL_MS of the instances', parsePositiveInteger, 1000)
    .option('--model <dir>', 'model directory (default models/sample, else a random conv4)')
    .option('--work <dir>', 'cache folder for the model and snapshots', join(REPO_ROOT, 'tmp', 'api-bench'))
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (f: { images: number; connections: number; pollMs: number; model?: string; work: string; out: string }) => {
      const result = await runS3PublishBench({ ...f, command: suiteCommand('s3-publish'), log: (l) => process.stderr.write(`${l}\n`) });
      const md = s3PublishMarkdown(result);
      await writeResults(f.out, 's3-publish', result, md);
      process.stdout.write(`${md}\n`);
    });
}
