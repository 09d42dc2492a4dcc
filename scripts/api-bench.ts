/**
 * HTTP benchmark of the search API, end to end through a real socket: `POST /v1/search` and
 * `POST /v1/verify` with a 28x28 model over a gallery of >= 10,000 images, at 1, 16 and 64 connections (autocannon,
 * bounded in time), for each embedding setting (in the serving thread vs worker threads); where
 * the time goes in a request (decode / embed / search / serialise, from the server's own
 * metrics); and cold start (process start to the first 200 from /v1/search) of the Node adapter
 * (`npm run dev`, wrangler config reader included) and of the AWS Lambda handler.
 *
 *   npx tsx scripts/api-bench.ts [--images 10000] [--duration 30] [--connections 1,16,64] [--workers 0,2]
 *                                [--routes search,verify] [--queries png28,photo] [--cold-starts 3] [--model DIR] [--work tmp/api-bench]
 *                                [--out bench/results] [--doc docs/api-bench.md]
 *
 * The server runs in its own process; the load generator runs in this one, on the same 2 cores.
 * Gallery: Fashion-MNIST (Debian dataset-fashion-mnist) as 28x28 PNGs, 10 per identity; queries
 * are other Fashion-MNIST images, sent two ways: `png28`, 28x28 PNGs (already the model's input
 * size: decoded in JavaScript, see src/data/png-at-size.ts) and `photo`, the same pictures enlarged
 * to 640x480 JPEGs (decoded and resized by sharp), so both decode paths are measured. Model: models/sample (what `npm start` trains) if present,
 * else a random-weight conv4 tower of the same architecture (same speed). Gallery and index are
 * cached in --work between runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import autocannon from 'autocannon';
import { Command } from 'commander';
import sharp from 'sharp';
import { parseModelCard } from '../src/model/card.js';
import { MODEL_CARD_FILE } from '../src/model/io.js';
import { openEmbedder } from '../src/embedding/index.js';
import { openSnapshot } from '../src/index/live-snapshot.js';
import { runIndex } from '../src/index/reindex.js';
import { GalleryStore } from '../src/index/store.js';
import { syntheticPng, writeTinyModel } from '../test/fixtures/gallery.js';
import { embeddingLabel, fashionMnist, machine, QUERY_LABEL, randomModel, table, writeResults, type QueryKind } from './bench-common.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
export const KEY = 'bench-read-key-0123456789abcdef';

export type { QueryKind };
/** How the query images are sent (see the module comment). */
export const QUERY_KINDS: readonly QueryKind[] = ['png28', 'photo'];

/** The endpoints loaded: `/v1/search` (one image) and `/v1/verify` (two images, multipart). */
export type BenchRoute = 'search' | 'verify';
export const BENCH_ROUTES: readonly BenchRoute[] = ['search', 'verify'];

export interface ApiBenchOptions {
  /** Gallery size (images, 10 per identity). */
  images: number;
  /** Seconds per load run. */
  duration: number;
  connections: number[];
  /** EMBED_WORKERS settings to compare (0 = embed in the serving thread). */
  workers: number[];
  /** Query encodings to load the server with. Default both. */
  queries?: QueryKind[];
  /** Endpoints to load. Default both. */
  routes?: BenchRoute[];
  /** Cold starts measured per setting (median reported). */
  coldStarts: number;
  /** Cache folder for the gallery, model and index. */
  work: string;
  /** Model directory; default models/sample, else a random conv4. */
  model?: string;
  /** Tiny synthetic images and a tiny model (smoke test). */
  tiny?: boolean;
  log?: (message: string) => void;
}

export interface LoadRun {
  route: BenchRoute;
  query: QueryKind;
  connections: number;
  seconds: number;
  requests: number;
  rps: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
  meanMs: number;
  errors: number;
  non2xx: number;
  /** Server-side mean ms per request: handler total and per stage. */
  server: { handler: number; decode: number; embed: number; search: number; serialise: number };
  /** Mean images per forward pass (micro-batching under load). */
  imagesPerPass: number;
}

export interface ServerResult {
  workers: number;
  coldStartMs: number[];
  runs: LoadRun[];
}

export interface ApiBenchResult {
  /** The machine and its load average when the benchmark started (it is shared). */
  machine: ReturnType<typeof machine>;
  model: { id: string; dir: string; source: string };
  gallery: { images: number; identities: number; source: string };
  index: { version: string; M: number; ef: number };
  servers: ServerResult[];
  lambdaColdStartMs: { workers: number; ms: number[] }[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolvePort(port));
    });
  });
}

/** Gallery PNGs (cached) and query PNGs that are not in the gallery. */
async function prepareImages(o: ApiBenchOptions): Promise<{ gallery: string; queries: Record<QueryKind, Buffer[]>; source: string }> {
  const queryCount = 64;
  const source = o.tiny ? 'synthetic 28x28 PNGs' : 'Fashion-MNIST 28x28 PNGs';
  const gallery = join(o.work, `gallery-${o.images}${o.tiny ? '-tiny' : ''}`);
  const marker = join(gallery, '.complete');
  let image: (i: number) => Promise<Buffer>;
  if (o.tiny) image = (i) => syntheticPng(i);
  else {
    const { images, count } = await fashionMnist(o.images + queryCount);
    // Fashion-MNIST has 70,000 images: beyond that, galleries reuse them mirrored (other bytes, other vectors).
    image = (i) => {
      const row = i % count;
      const picture = sharp(Buffer.from(images.subarray(row * 784, (row + 1) * 784)), { raw: { width: 28, height: 28, channels: 1 } });
      return (Math.floor(i / count) % 2 === 1 ? picture.flop() : picture).png().toBuffer();
    };
  }
  if (!(await exists(marker))) {
    o.log?.(`writing ${o.images} gallery PNGs to ${gallery}`);
    for (let i = 0; i < o.images; i++) {
      const dir = join(gallery, `p${String(Math.floor(i / 10)).padStart(5, '0')}`);
      if (i % 10 === 0) await mkdir(dir, { recursive: true });
      await writeFile(join(dir, `${i % 10}.png`), await image(i));
    }
    await writeFile(marker, '');
  }
  const png28 = await Promise.all(Array.from({ length: queryCount }, (_, q) => image(o.images + q)));
  // The same pictures as a phone would send them: large JPEGs that must be decoded and shrunk.
  const photo = await Promise.all(png28.map((png) => sharp(png).resize(640, 480, { fit: 'fill', kernel: 'lanczos3' }).jpeg({ quality: 90 }).toBuffer()));
  return { gallery, queries: { png28, photo }, source };
}

async function prepareModel(o: ApiBenchOptions): Promise<{ dir: string; source: string }> {
  if (o.model) return { dir: resolve(o.model), source: o.model };
  if (o.tiny) {
    const dir = join(o.work, 'model-tiny');
    if (!(await exists(join(dir, MODEL_CARD_FILE)))) await writeTinyModel(dir);
    return { dir, source: 'tiny random conv4 (smoke test)' };
  }
  const sample = join(ROOT, 'models', 'sample');
  if (await exists(join(sample, MODEL_CARD_FILE))) return { dir: sample, source: 'models/sample (trained by npm start)' };
  const dir = join(o.work, 'model-random');
  if (!(await exists(join(dir, MODEL_CARD_FILE)))) await randomModel(dir);
  return { dir, source: 'random-weight conv4 28x28 (same architecture and speed as the sample model)' };
}

/** Builds the index unless a verified one for this model exists. */
async function prepareIndex(o: ApiBenchOptions, modelDir: string, gallery: string): Promise<{ dir: string; version: string; M: number; ef: number }> {
  const card = parseModelCard(await readFile(join(modelDir, MODEL_CARD_FILE), 'utf8'));
  const dir = join(o.work, `index-${o.images}${o.tiny ? '-tiny' : ''}-${card.modelId}`);
  const expect = { dim: card.embeddingSize, metric: card.metric, modelId: card.modelId };
  try {
    const index = await openSnapshot(dir, { expect });
    return { dir, version: index.version, M: index.stats().M, ef: index.stats().ef };
  } catch {
    o.log?.(`building the index in ${dir}`);
    const embedder = await openEmbedder(modelDir, { workers: o.tiny ? 0 : 2 });
    try {
      await runIndex({ indexDir: dir, store: new GalleryStore(gallery), embedder, mode: 'build' });
    } finally {
      await embedder.close();
    }
    const index = await openSnapshot(dir, { expect });
    return { dir, version: index.version, M: index.stats().M, ef: index.stats().ef };
  }
}

export async function writeServerConfig(work: string, vars: Record<string, string>): Promise<string> {
  const dir = join(work, 'server');
  await mkdir(dir, { recursive: true });
  const toml = [
    'name = "twinsearch-bench"',
    `main = ${JSON.stringify(join(ROOT, 'functions', 'worker.ts'))}`,
    'compatibility_date = "2025-09-01"',
    'compatibility_flags = ["nodejs_compat"]',
    'send_metrics = false',
    '[vars]',
    ...Object.entries(vars).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
    '',
  ].join('\n');
  await writeFile(join(dir, 'wrangler.toml'), toml);
  await writeFile(join(dir, '.dev.vars'), `API_KEYS=${KEY}\n`);
  return join(dir, 'wrangler.toml');
}

const searchHeaders = { authorization: `Bearer ${KEY}`, 'content-type': 'image/png' };

/** Spawns `npm run dev`'s CLI and measures process start → first 200 from /v1/search. */
export async function startServer(config: string, workers: number, query: Buffer): Promise<{ child: ChildProcess; url: string; coldStartMs: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/dev.ts'), '--config', config, '--port', String(port), '--no-crons'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, EMBED_WORKERS: String(workers), API_KEYS: KEY, ADMIN_KEYS: '' },
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  let exited = false;
  child.on('exit', () => (exited = true));
  for (;;) {
    if (exited) throw new Error(`server exited during start-up: ${stderr}`);
    if (performance.now() - started > 120_000) throw new Error(`server did not answer within 120 s: ${stderr}`);
    try {
      const res = await fetch(`${url}/v1/search`, { method: 'POST', body: new Uint8Array(query), headers: searchHeaders });
      await res.arrayBuffer();
      if (res.status === 200) return { child, url, coldStartMs: performance.now() - started };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Sums and counts of the server's histograms and counters that the breakdown needs. */
async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(twinsearch_(?:stage_duration_seconds|http_request_duration_seconds)_(?:sum|count)\{[^}]*\}|twinsearch_embed_(?:passes|images)) ([\d.e+-]+)$/.exec(line);
    if (m) values.set(m[1], Number(m[2]));
  }
  return values;
}

function breakdown(route: BenchRoute, before: Map<string, number>, after: Map<string, number>): Pick<LoadRun, 'server' | 'imagesPerPass'> {
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const mean = (name: string, labels: string): number => {
    const count = delta(`${name}_count{${labels}}`);
    return count ? round((delta(`${name}_sum{${labels}}`) / count) * 1000, 3) : 0;
  };
  const stage = (s: string): number => mean('twinsearch_stage_duration_seconds', `stage="${s}"`);
  const passes = delta('twinsearch_embed_passes');
  return {
    server: { handler: mean('twinsearch_http_request_duration_seconds', `method="POST",route="/v1/${route}"`), decode: stage('decode'), embed: stage('embed'), search: stage('search'), serialise: stage('serialise') },
    imagesPerPass: passes ? round(delta('twinsearch_embed_images') / passes, 2) : 0,
  };
}

/** One autocannon request per query. */
type BenchRequest = { method: 'POST'; path: string; headers: Record<string, string>; body: Buffer };

/** A request body per query: the raw image for /v1/search, a two-part form (this image and the next) for /v1/verify. */
async function requestsFor(route: BenchRoute, queries: Buffer[]): Promise<BenchRequest[]> {
  if (route === 'search') return queries.map((body) => ({ method: 'POST', path: '/v1/search', headers: searchHeaders, body }));
  return Promise.all(
    queries.map(async (a, i) => {
      const form = new FormData();
      form.append('image_a', new Blob([new Uint8Array(a)]), 'a');
      form.append('image_b', new Blob([new Uint8Array(queries[(i + 1) % queries.length])]), 'b');
      const encoded = new Response(form);
      return { method: 'POST' as const, path: '/v1/verify', headers: { authorization: `Bearer ${KEY}`, 'content-type': encoded.headers.get('content-type') ?? '' }, body: Buffer.from(await encoded.arrayBuffer()) };
    }),
  );
}

async function load(url: string, route: BenchRoute, query: QueryKind, connections: number, seconds: number, requests: BenchRequest[]): Promise<LoadRun> {
  const before = await scrape(url);
  const r = await autocannon({ url, connections, duration: seconds, timeout: 30, requests });
  const after = await scrape(url);
  return {
    route,
    query,
    connections,
    seconds: round(r.duration, 1),
    requests: r.requests.total,
    rps: round(r.requests.average, 0),
    p50: r.latency.p50,
    p90: r.latency.p90,
    p97_5: r.latency.p97_5,
    p99: r.latency.p99,
    meanMs: round(r.latency.average, 2),
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    ...breakdown(route, before, after),
  };
}

/** Lambda cold start: a fresh process imports functions/lambda.ts and answers one /v1/search event. */
export async function lambdaColdStart(env: Record<string, string>, query: Buffer): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts/api-bench-lambda-child.ts')], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  child.stdin.end(query.toString('base64'));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  return new Promise((resolveMs, reject) => {
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      const m = /^status (\d+)$/m.exec(stdout);
      if (m) {
        const ms = performance.now() - started;
        child.kill('SIGKILL');
        if (m[1] === '200') resolveMs(ms);
        else reject(new Error(`lambda answered ${m[1]}: ${stderr}`));
      }
    });
    child.on('exit', (code) => {
      if (!/^status /m.test(stdout)) reject(new Error(`lambda child exited with ${code}: ${stderr}`));
    });
  });
}

/** What a server run needs: model, gallery and query images, a verified index and a wrangler config. */
export interface PreparedApiBench {
  model: { dir: string; source: string };
  card: ReturnType<typeof parseModelCard>;
  gallery: string;
  queries: Record<QueryKind, Buffer[]>;
  source: string;
  index: { dir: string; version: string; M: number; ef: number };
  vars: Record<string, string>;
  config: string;
}

/**
 * Model, gallery, queries and index (all cached in `o.work`) and the server's wrangler config.
 *
 * @example
 * const p = await prepareApiBench({ images: 10_000, duration: 0, connections: [], workers: [0], coldStarts: 1, work: 'tmp/api-bench' });
 */
export async function prepareApiBench(o: ApiBenchOptions): Promise<PreparedApiBench> {
  await mkdir(o.work, { recursive: true });
  const model = await prepareModel(o);
  const card = parseModelCard(await readFile(join(model.dir, MODEL_CARD_FILE), 'utf8'));
  const { gallery, queries, source } = await prepareImages(o);
  const index = await prepareIndex(o, model.dir, gallery);
  const vars = { MODEL_DIR: model.dir, INDEX_DIR: index.dir, GALLERY_DIR: gallery, LOG_LEVEL: 'warn', WATCH_INDEX: 'false', RELOAD_POLL_MS: '0' };
  const config = await writeServerConfig(o.work, vars);
  return { model, card, gallery, queries, source, index, vars, config };
}

/**
 * @example
 * const r = await runApiBench({ images: 10_000, duration: 30, connections: [1, 16, 64], workers: [0, 2], coldStarts: 3, work: 'tmp/api-bench' });
 */
export async function runApiBench(o: ApiBenchOptions): Promise<ApiBenchResult> {
  const log = o.log ?? (() => {});
  const atStart = machine();
  const { model, card, queries, source, index, vars, config } = await prepareApiBench(o);

  const servers: ServerResult[] = [];
  const lambda: ApiBenchResult['lambdaColdStartMs'] = [];
  for (const workers of o.workers) {
    const coldStartMs: number[] = [];
    let running: Awaited<ReturnType<typeof startServer>> | null = null;
    for (let i = 0; i < o.coldStarts; i++) {
      if (running) await stopServer(running.child);
      running = await startServer(config, workers, queries.png28[0]);
      coldStartMs.push(round(running.coldStartMs, 0));
      log(`workers ${workers}: cold start ${coldStartMs.at(-1)} ms`);
    }
    if (!running) throw new Error('coldStarts must be at least 1');
    try {
      const runs: LoadRun[] = [];
      for (const route of o.routes ?? BENCH_ROUTES) {
        for (const kind of o.queries ?? QUERY_KINDS) {
          const requests = await requestsFor(route, queries[kind]);
          await autocannon({ url: running.url, connections: 4, duration: Math.min(2, o.duration), requests });
          for (const connections of o.connections) {
            const run = await load(running.url, route, kind, connections, o.duration, requests);
            runs.push(run);
            log(`workers ${workers}, /v1/${route}, ${kind}, ${connections} connections: ${run.rps} req/s, p50 ${run.p50} ms, p99 ${run.p99} ms, errors ${run.errors}, non-2xx ${run.non2xx}`);
          }
        }
      }
      servers.push({ workers, coldStartMs, runs });
    } finally {
      await stopServer(running.child);
    }
    const lambdaMs: number[] = [];
    for (let i = 0; i < o.coldStarts; i++) {
      lambdaMs.push(round(await lambdaColdStart({ ...vars, EMBED_WORKERS: String(workers), API_KEYS: KEY, LOG_LEVEL: 'silent' }, queries.png28[0]), 0));
      log(`workers ${workers}: lambda cold start ${lambdaMs.at(-1)} ms`);
    }
    lambda.push({ workers, ms: lambdaMs });
  }
  return {
    machine: atStart,
    model: { id: card.modelId, dir: model.dir, source: model.source },
    gallery: { images: o.images, identities: Math.ceil(o.images / 10), source },
    index: { version: index.version, M: index.M, ef: index.ef },
    servers,
    lambdaColdStartMs: lambda,
  };
}

/** The markdown report (docs/api-bench.md). */
export function apiBenchMarkdown(r: ApiBenchResult, command: string): string {
  const m = r.machine;
  const end = machine();
  // The columns that name a run, first in both tables.
  const runColumns = (workers: number, run: LoadRun) => ({ route: `/v1/${run.route}`, embedding: embeddingLabel(workers), query: QUERY_LABEL[run.query], connections: run.connections });
  const loadRows = r.servers.flatMap((s) =>
    s.runs.map((run) => ({
      ...runColumns(s.workers, run),
      'req/s': run.rps,
      'p50 ms': run.p50,
      'p90 ms': run.p90,
      'p97.5 ms': run.p97_5,
      'p99 ms': run.p99,
      errors: run.errors,
      'non-2xx': run.non2xx,
      'images/pass': run.imagesPerPass,
    })),
  );
  const stageRows = r.servers.flatMap((s) =>
    s.runs.map((run) => ({
      ...runColumns(s.workers, run),
      'client mean': run.meanMs,
      handler: run.server.handler,
      decode: run.server.decode,
      embed: run.server.embed,
      search: run.server.search,
      serialise: run.server.serialise,
      'outside handler': round(run.meanMs - run.server.handler, 2),
    })),
  );
  const coldRows = r.servers.map((s) => ({
    embedding: embeddingLabel(s.workers),
    'npm run dev (adapter), median ms': median(s.coldStartMs),
    'runs ms': s.coldStartMs.join(', '),
    'Lambda handler, median ms': median(r.lambdaColdStartMs.find((l) => l.workers === s.workers)?.ms ?? []),
    'Lambda runs ms': (r.lambdaColdStartMs.find((l) => l.workers === s.workers)?.ms ?? []).join(', '),
  }));
  return [
    `# HTTP benchmark: POST /v1/search and /v1/verify`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16)}Z on ${m.cpu}, ${m.cores} cores, Node ${m.node}; load average (1 / 5 / 15 min) ${m.loadavg.join(' / ')} at the start and ${end.loadavg.join(' / ')} at the end (a shared machine: other work runs on it).`,
    `Model ${r.model.id} (${r.model.source}); gallery ${r.gallery.images} images of ${r.gallery.identities} identities (${r.gallery.source}); index ${r.index.version} (M ${r.index.M}, ef ${r.index.ef}).`,
    `Server: \`npm run dev\`'s adapter in its own process; load: autocannon in the benchmark process on the same machine; raw image bodies, a read key, identity-level search, k = 5.`,
    `Queries: 64 Fashion-MNIST pictures not in the gallery, sent as 28x28 PNGs (the model's input size: decoded in JavaScript without sharp) and as 640x480 JPEGs (decoded and shrunk by sharp).`,
    '',
    `Command: \`${command}\``,
    '',
    '## Throughput and latency',
    '',
    table(loadRows),
    '',
    '## Where the time goes (mean ms per request)',
    '',
    '`handler` is the server-side time from the first middleware to the response (auth, body read, decode, embed, search, JSON);',
    '`embed` includes waiting for a free embedding slot (queueing under load); `outside handler` is the client-measured mean minus',
    'the handler: HTTP parsing, the socket and the load generator itself, which shares the two cores.',
    '',
    table(stageRows),
    '',
    '## Cold start (process start to the first 200 from /v1/search)',
    '',
    table(coldRows),
    '',
  ].join('\n');
}

export function apiBenchCommand(): Command {
  const list = (v: string): number[] => v.split(',').map((x) => Number(x.trim()));
  return new Command('http')
    .description('HTTP benchmark of POST /v1/search (autocannon) and cold start')
    .option('--images <n>', 'gallery images (10 per identity)', (v) => Number(v), 10_000)
    .option('--duration <s>', 'seconds per load run', (v) => Number(v), 30)
    .option('--connections <list>', 'connection counts', list, [1, 16, 64])
    .option('--workers <list>', 'EMBED_WORKERS settings to compare', list, [0, 2])
    .option('--routes <list>', `endpoints: ${BENCH_ROUTES.join(', ')}`, (v) => v.split(',').map((x) => x.trim()) as BenchRoute[], [...BENCH_ROUTES])
    .option('--queries <list>', `query encodings: ${QUERY_KINDS.join(', ')}`, (v) => v.split(',').map((x) => x.trim()) as QueryKind[], [...QUERY_KINDS])
    .option('--cold-starts <n>', 'cold starts per setting', (v) => Number(v), 3)
    .option('--model <dir>', 'model directory (default models/sample, else a random conv4)')
    .option('--work <dir>', 'cache folder for gallery, model and index', join(ROOT, 'tmp', 'api-bench'))
    .option('--out <dir>', 'results folder', join(ROOT, 'bench', 'results'))
    .option('--doc <file>', 'markdown report', join(ROOT, 'docs', 'api-bench.md'))
    .action(async (f: { images: number; duration: number; connections: number[]; workers: number[]; routes: BenchRoute[]; queries: QueryKind[]; coldStarts: number; model?: string; work: string; out: string; doc: string }) => {
      const command = `npx tsx scripts/api-bench.ts ${process.argv.slice(2).join(' ')}`.trim();
      const result = await runApiBench({ ...f, log: (m) => process.stderr.write(`${m}\n`) });
      const markdown = apiBenchMarkdown(result, command);
      await writeResults(f.out, 'api-bench', result, markdown);
      await writeFile(f.doc, markdown);
      process.stdout.write(markdown);
    });
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  await apiBenchCommand().parseAsync(process.argv);
}
