/**
 * `npm run bench -- faces`: the speed of a face model, as ratios measured in one run (these
 * machines differ 3-4x per core from day to day, so only ratios carry over):
 * - the query path stage by stage, in one thread: decode, detect, landmarks + align, embed, and
 *   search (the server's own figure);
 * - at 1 connection, a one-face 640x480 JPEG through `POST /v1/search` against the bare
 *   detect + landmarks + align + forward of the same image in this process (target <= 1.5x);
 * - at 8 connections, the server's throughput against the same number of embedding workers fed
 *   decoded images directly (target >= 80%, zero errors);
 * - index building in faces/s (the same workers).
 *
 *   npm run bench -- faces [--people 20] [--photos 5] [--requests 48] [--workers 2] [--work tmp/bench-faces] [--out bench/results]
 *
 * Gallery: AT&T people s1.. (photos 1..N); queries: their other photos pasted at 90-140 px on busy
 * 640x480 backgrounds, saved as JPEG. The server is `npm run dev`'s adapter in its own process;
 * autocannon and the direct runs share the machine with it, as a client would.
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import autocannon from 'autocannon';
import { Command } from 'commander';
import sharp from 'sharp';
import { datasetsDir } from '../../src/data/datasets.js';
import { createRng } from '../../src/data/rng.js';
import { createFaceEmbedder, decodeFaceImage, openEmbedder, recipeFromCard, startFaceRunner, type FaceImage } from '../../src/embedding/index.js';
import { CHIP_SIZE, chipTransform, extractChip } from '../../src/face/chip.js';
import { busyBackground, encodeJpeg, pasteFaces } from '../../src/face/composite.js';
import { findFaces, loadDetector } from '../../src/face/detect.js';
import { landmarkBox, loadLandmarkFinder } from '../../src/face/landmarks.js';
import { DEFAULT_DETECTOR, saveFaceModel } from '../../src/face/model.js';
import { toRgb } from '../../src/face/pixels.js';
import { loadFaceTower } from '../../src/face/tower.js';
import { initBackend } from '../../src/model/backend.js';
import { readModelCard } from '../../src/model/io.js';
import { runIndex } from '../../src/index/reindex.js';
import { GalleryStore } from '../../src/index/store.js';
import { writeWranglerConfig } from '../server/config.js';
import { stopProcess } from '../server/dev.js';
import { startServer } from './http/cold-start.js';
import { KEY } from './http/types.js';
import { machine, table, writeResults } from './common.js';
import { RESULTS_DIR, sectionContext, sectionHeader, type SectionContext } from './context.js';

export interface FaceBenchOptions {
  /** Gallery: AT&T people s1..s<people>, photos 1..<photos> each. */
  people: number;
  photos: number;
  /** Requests per load run, and images per direct run (a count, not a duration: on a busy machine one request can take seconds). */
  requests: number;
  /** Embedding workers of the server, of the direct run and of index building. */
  workers: number;
  /** Different query photos (cycled). */
  queries: number;
  work: string;
  attDir?: string;
  command?: string;
  log?: (line: string) => void;
}

export interface FaceBenchResult {
  context: SectionContext;
  loadAtEnd: number[];
  gallery: { people: number; images: number };
  /** Median ms per query image, one thread, each stage after the previous. */
  stages: { decode: number; detect: number; landmarksAlign: number; embed: number; search: number };
  oneConnection: { bareMs: number; searchMs: number; ratio: number; requests: number; errors: number };
  eightConnections: { workers: number; directImagesPerSecond: number; serverRps: number; ratio: number; requests: number; errors: number };
  index: { workers: number; images: number; embedSeconds: number; facesPerSecond: number };
}

const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
const now = (): number => performance.now();

/** One-face 640x480 JPEGs: another photo of a gallery person, 90-140 px wide, on a busy background. */
async function queryPhotos(attDir: string, o: FaceBenchOptions): Promise<Buffer[]> {
  const rng = createRng(17);
  const out: Buffer[] = [];
  for (let i = 0; i < o.queries; i++) {
    const width = 90 + rng.int(51);
    const file = join(attDir, `s${1 + (i % o.people)}`, `${o.photos + 1 + (i % (10 - o.photos))}.png`);
    const scene = await pasteFaces(busyBackground(640, 480, rng), [{ file, x: rng.int(640 - width), y: rng.int(480 - Math.round(width * 1.22)), width }]);
    out.push(await encodeJpeg(scene.image));
  }
  return out;
}

/** Stage by stage in this thread, and the bare detect + landmarks + align + forward (what a search must pay at least). */
async function stageSplit(photos: Buffer[], rounds: number): Promise<{ stages: Omit<FaceBenchResult['stages'], 'search'>; bareMs: number }> {
  const detector = await loadDetector(DEFAULT_DETECTOR);
  const finder = await loadLandmarkFinder('68');
  const tower = await loadFaceTower();
  const times = { decode: [] as number[], detect: [] as number[], landmarksAlign: [] as number[], embed: [] as number[], bare: [] as number[] };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const photo of photos) {
        const t0 = now();
        const { pixels, width, height } = await decodeFaceImage(photo);
        const t1 = now();
        const image = toRgb(pixels, width, height);
        const found = await findFaces(detector, image);
        const t2 = now();
        const first = await finder.locate(image, found.slice(0, 1).map((f) => f.box));
        const points = await finder.locate(image, first.map(landmarkBox));
        const chips = points.map((p) => extractChip(image, chipTransform(p), CHIP_SIZE));
        const t3 = now();
        await tower.embed(chips);
        const t4 = now();
        times.decode.push(t1 - t0);
        times.detect.push(t2 - t1);
        times.landmarksAlign.push(t3 - t2);
        times.embed.push(t4 - t3);
        times.bare.push(t4 - t1);
      }
    }
  } finally {
    detector.dispose();
    finder.dispose();
    tower.dispose();
  }
  return {
    stages: { decode: round(median(times.decode)), detect: round(median(times.detect)), landmarksAlign: round(median(times.landmarksAlign)), embed: round(median(times.embed)) },
    bareMs: round(median(times.bare)),
  };
}

/** `count` decoded images pushed through `workers` embedding workers by `connections` concurrent callers: images/s. */
async function directThroughput(modelDir: string, images: FaceImage[], workers: number, connections: number, count: number): Promise<number> {
  const card = await readModelCard(modelDir);
  const embedder = createFaceEmbedder(recipeFromCard(card), await startFaceRunner(modelDir, card, { workers }));
  try {
    // A copy per call: worker threads take the pixels over.
    const copy = (image: FaceImage): FaceImage => ({ ...image, pixels: image.pixels.slice() });
    await embedder.faces.find(images.slice(0, workers * 2).map(copy)); // warm-up
    let next = 0;
    const started = now();
    await Promise.all(
      Array.from({ length: connections }, async () => {
        for (let i = next++; i < count; i = next++) await embedder.faces.find([copy(images[i % images.length])]);
      }),
    );
    return count / ((now() - started) / 1000);
  } finally {
    await embedder.close();
  }
}

/**
 * @example
 * const r = await runFaceBench({ people: 20, photos: 5, requests: 48, workers: 2, queries: 16, work: 'tmp/bench-faces' });
 */
export async function runFaceBench(o: FaceBenchOptions): Promise<FaceBenchResult> {
  const log = o.log ?? (() => {});
  const context = sectionContext(o.command ?? 'npm run bench -- faces');
  const attDir = o.attDir ?? join(datasetsDir(), 'att-faces');
  await initBackend({ preference: 'wasm', log: () => {} });
  // Absolute: the server's config resolves relative folders against its own.
  const work = resolve(o.work);
  const modelDir = join(work, 'model');
  const galleryDir = join(work, 'gallery');
  const indexDir = join(work, 'index');
  await rm(work, { recursive: true, force: true });
  await saveFaceModel(modelDir, {
    name: 'faces-bench',
    thresholds: { eer: { threshold: 0.6, far: 0, tar: 1 }, atFar: [], default: 0.6 },
    validation: { auc: 1, eer: 0, samePairs: 0, differentPairs: 0 },
    training: { backend: 'wasm', seed: 0, epochs: 0, steps: 0, batchSize: 1, learningRate: 0, wallSeconds: 0, trainIdentities: 0, valIdentities: 0, images: 0, dataDigest: 'none' },
  });
  for (let p = 1; p <= o.people; p++) {
    await mkdir(join(galleryDir, `s${p}`), { recursive: true });
    for (let photo = 1; photo <= o.photos; photo++) await copyFile(join(attDir, `s${p}`, `${photo}.png`), join(galleryDir, `s${p}`, `${photo}.png`));
  }

  log(`index: ${o.people * o.photos} images with ${o.workers} workers`);
  const indexer = await openEmbedder(modelDir, { workers: o.workers });
  let summary;
  try {
    summary = await runIndex({ indexDir, store: new GalleryStore(galleryDir), embedder: indexer, mode: 'build' });
  } finally {
    await indexer.close();
  }
  const index = { workers: o.workers, images: summary.embedded, embedSeconds: round(summary.timings.embed, 3), facesPerSecond: round(summary.embedded / summary.timings.embed, 1) };

  const photos = await queryPhotos(attDir, o);
  log('stage split and bare path, one thread');
  const split = await stageSplit(photos, 2);

  const config = await writeWranglerConfig(join(work, 'server'), 'twinsearch-bench', { MODEL_DIR: modelDir, INDEX_DIR: indexDir, GALLERY_DIR: galleryDir, LOG_LEVEL: 'silent' }, { API_KEYS: KEY });
  const requests = photos.map((body) => ({ method: 'POST' as const, path: '/v1/search', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'image/jpeg' }, body }));

  log('1 connection, embedding in the serving thread');
  let server = await startServer(config, 0, photos[0]);
  let one: Awaited<ReturnType<typeof autocannon>>;
  let searchMs: number;
  try {
    await autocannon({ url: server.url, connections: 1, amount: 2, timeout: 120, requests });
    one = await autocannon({ url: server.url, connections: 1, amount: o.requests, timeout: 120, requests });
    const res = await fetch(`${server.url}/v1/search`, { method: 'POST', body: new Uint8Array(photos[0]), headers: requests[0].headers });
    searchMs = ((await res.json()) as { timings: { searchMs: number } }).timings.searchMs;
  } finally {
    await stopProcess(server.dev.child);
  }
  const bareAgain = (await stageSplit(photos, 1)).bareMs; // the machine's pace after the load run, too

  log(`8 connections, ${o.workers} embedding workers`);
  server = await startServer(config, o.workers, photos[0]);
  let eight: Awaited<ReturnType<typeof autocannon>>;
  try {
    await autocannon({ url: server.url, connections: 8, amount: 8, timeout: 120, requests });
    eight = await autocannon({ url: server.url, connections: 8, amount: Math.max(8, o.requests), timeout: 120, requests });
  } finally {
    await stopProcess(server.dev.child);
  }
  const decoded = await Promise.all(photos.map((p) => decodeFaceImage(p)));
  const direct = await directThroughput(modelDir, decoded, o.workers, 8, Math.max(8, o.requests));

  const bareMs = round((split.bareMs + bareAgain) / 2);
  return {
    context,
    loadAtEnd: machine().loadavg,
    gallery: { people: o.people, images: o.people * o.photos },
    stages: { ...split.stages, search: searchMs },
    oneConnection: { bareMs, searchMs: round(one.latency.average), ratio: round(one.latency.average / bareMs), requests: one.requests.total, errors: one.errors + one.timeouts + one.non2xx },
    eightConnections: {
      workers: o.workers,
      directImagesPerSecond: round(direct),
      serverRps: round(eight.requests.total / eight.duration),
      ratio: round(eight.requests.total / eight.duration / direct),
      requests: eight.requests.total,
      errors: eight.errors + eight.timeouts + eight.non2xx,
    },
    index,
  };
}

export function faceBenchMarkdown(r: FaceBenchResult): string {
  const s = r.stages;
  const total = s.decode + s.detect + s.landmarksAlign + s.embed + s.search;
  const share = (x: number): string => `${Math.round((x / total) * 100)}%`;
  return [
    sectionHeader('faces: the face model\'s query path, throughput and index building', r.context),
    `Load average at the end: ${r.loadAtEnd.join(' / ')}. Gallery: ${r.gallery.images} AT&T photos of ${r.gallery.people} people; queries: one-face 640x480 JPEGs (other photos of them pasted on busy backgrounds).`,
    '',
    '### Query path, stage by stage (one thread, median ms per image)',
    '',
    table([
      { stage: 'decode (sharp, full size)', ms: s.decode, share: share(s.decode) },
      { stage: 'detect (tiny 512 + 224)', ms: s.detect, share: share(s.detect) },
      { stage: 'landmarks x2 + align', ms: s.landmarksAlign, share: share(s.landmarksAlign) },
      { stage: 'embed (recognition net, batch 1)', ms: s.embed, share: share(s.embed) },
      { stage: 'search (HNSW, server timing)', ms: s.search, share: share(s.search) },
    ]),
    '',
    '### Targets',
    '',
    table([
      { measure: '1 connection: /v1/search mean latency / bare detect + landmarks + align + forward', value: `${r.oneConnection.searchMs} / ${r.oneConnection.bareMs} ms = ${r.oneConnection.ratio}x`, target: '<= 1.5x', errors: r.oneConnection.errors },
      {
        measure: `8 connections: server req/s / ${r.eightConnections.workers} workers fed directly`,
        value: `${r.eightConnections.serverRps} / ${r.eightConnections.directImagesPerSecond} = ${Math.round(r.eightConnections.ratio * 100)}%`,
        target: '>= 80%',
        errors: r.eightConnections.errors,
      },
      { measure: `index building, ${r.index.workers} workers`, value: `${r.index.facesPerSecond} faces/s (${r.index.images} in ${r.index.embedSeconds} s)`, target: '–', errors: 0 },
    ]),
    '',
  ].join('\n');
}

export function faceBenchCommand(): Command {
  return new Command('faces')
    .description('face model: stage split, /v1/search vs the bare face path, throughput vs direct workers, index faces/s')
    .option('--people <n>', 'gallery people (AT&T s1..)', (v) => Number.parseInt(v, 10), 20)
    .option('--photos <n>', 'photos per person in the gallery (1..9)', (v) => Number.parseInt(v, 10), 5)
    .option('--requests <n>', 'requests per load run (and images per direct run)', (v) => Number.parseInt(v, 10), 48)
    .option('--workers <n>', 'embedding workers', (v) => Number.parseInt(v, 10), 2)
    .option('--queries <n>', 'query photos', (v) => Number.parseInt(v, 10), 16)
    .option('--work <dir>', 'scratch folder (replaced)', 'tmp/bench-faces')
    .option('--out <dir>', 'results folder', RESULTS_DIR)
    .action(async (opts: { people: number; photos: number; requests: number; workers: number; queries: number; work: string; out: string }) => {
      const command = `npm run bench -- faces --people ${opts.people} --photos ${opts.photos} --requests ${opts.requests} --workers ${opts.workers}`;
      const r = await runFaceBench({ ...opts, command, log: (line) => process.stderr.write(`${line}\n`) });
      const md = faceBenchMarkdown(r);
      await writeResults(opts.out, 'faces', r, md);
      process.stdout.write(`${md}\n`);
    });
}
