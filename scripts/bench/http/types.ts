/**
 * The HTTP benchmark's options and results. It loads `POST /v1/search` and `POST /v1/verify` with a
 * 28x28 model over a gallery of >= 10,000 images, at 1, 16 and 64 connections, for each embedding
 * setting (in the serving thread vs worker threads); reads where the time goes in a request from the
 * server's own metrics; and times cold starts of the Node adapter and of the AWS Lambda handler.
 */
import type { machine } from '../common.js';

/** The read key the benchmark's server accepts. */
export const KEY = 'bench-read-key-0123456789abcdef';

/**
 * How the query images are sent: `png28`, 28x28 PNGs (already the model's input size: decoded in
 * JavaScript, see src/data/png-at-size.ts), or `photo`, the same pictures enlarged to 640x480 JPEGs
 * (decoded and resized by sharp), so both decode paths are measured.
 */
export type QueryKind = 'png28' | 'photo';
export const QUERY_KINDS: readonly QueryKind[] = ['png28', 'photo'];
export const QUERY_LABEL: Record<QueryKind, string> = { png28: '28x28 PNG', photo: '640x480 JPEG' };

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

/** Server-side mean ms per request: handler total and per stage. */
export interface StageBreakdown {
  server: { handler: number; decode: number; embed: number; search: number; serialise: number };
  /** Mean images per forward pass (micro-batching under load). */
  imagesPerPass: number;
}

export interface LoadRun extends StageBreakdown {
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
  /** Requests that got no answer (socket errors, timeouts). */
  errors: number;
  non2xx: number;
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

export const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
