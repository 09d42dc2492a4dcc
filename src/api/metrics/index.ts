/**
 * Prometheus metrics, one registry per app (tests build many apps; the global registry would
 * mix them): requests by route and status, latency histograms, time per stage (decode, embed,
 * search, serialise), embedding passes, and the index's version, size and reload health.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Embedder } from '../../embedding/index.js';
import type { VectorStore } from '../../index/vector-store.js';

export type Stage = 'decode' | 'embed' | 'search' | 'serialise';

export interface ApiMetrics {
  registry: Registry;
  /** Records one finished request. */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Records the time one request spent in a stage. */
  observeStage(stage: Stage, seconds: number): void;
}

const LATENCY_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
const STAGE_BUCKETS = [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5];

export interface MetricsSources {
  store: VectorStore;
  embedder?: Pick<Embedder, 'stats'>;
  /** Also export Node process metrics (event-loop lag, heap, GC). Default true. */
  processMetrics?: boolean;
}

/**
 * @example
 * const metrics = createMetrics({ store, embedder });
 * metrics.observeRequest('POST', '/v1/search', 200, 0.004);
 * await metrics.registry.metrics(); // Prometheus text
 */
export function createMetrics(sources: MetricsSources): ApiMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (sources.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'twinsearch_' });

  const requests = new Counter({ name: 'twinsearch_http_requests_total', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'], registers });
  const latency = new Histogram({ name: 'twinsearch_http_request_duration_seconds', help: 'HTTP request latency (handler time, not network)', labelNames: ['method', 'route'], buckets: LATENCY_BUCKETS, registers });
  const stages = new Histogram({ name: 'twinsearch_stage_duration_seconds', help: 'Time per request stage: decode (sharp + preprocessing), embed (queue + forward pass), search (HNSW), serialise (JSON)', labelNames: ['stage'], buckets: STAGE_BUCKETS, registers });

  const { store, embedder } = sources;
  new Gauge({
    name: 'twinsearch_index_ready',
    help: '1 when a verified index snapshot is loaded',
    registers,
    collect() {
      this.set(store.status().ready ? 1 : 0);
    },
  });
  new Gauge({
    name: 'twinsearch_index_info',
    help: 'The serving snapshot (value 1, labels say which)',
    labelNames: ['version', 'model'],
    registers,
    collect() {
      this.reset();
      const reader = store.reader();
      if (reader) this.set({ version: reader.generation, model: reader.info().model.id }, 1);
    },
  });
  const sizes = new Gauge({
    name: 'twinsearch_index_size',
    help: 'Searchable images and identities, and graph points marked deleted, of the serving index',
    labelNames: ['kind'],
    registers,
    collect() {
      const s = store.reader()?.info();
      sizes.set({ kind: 'images' }, s?.images ?? 0);
      sizes.set({ kind: 'identities' }, s?.identities ?? 0);
      sizes.set({ kind: 'deleted' }, s?.deleted ?? 0);
    },
  });
  new Gauge({
    name: 'twinsearch_index_swaps',
    help: 'Snapshots swapped in since start (the first load included)',
    registers,
    collect() {
      this.set(store.status().swaps);
    },
  });
  new Gauge({
    name: 'twinsearch_index_reload_failures',
    help: 'Snapshots refused since start (failed verification, wrong model, unreadable)',
    registers,
    collect() {
      this.set(store.status().reloadFailures);
    },
  });
  new Gauge({
    name: 'twinsearch_index_refused',
    help: '1 while the newest snapshot CURRENT named was refused (the previous one keeps serving)',
    labelNames: ['version', 'code'],
    registers,
    collect() {
      this.reset();
      const r = store.status().refused;
      if (r) this.set({ version: r.generation, code: r.code }, 1);
    },
  });
  if (embedder) {
    new Gauge({
      name: 'twinsearch_embed_passes',
      help: 'Forward passes run for requests (concurrent requests share passes)',
      registers,
      collect() {
        this.set(embedder.stats().passes);
      },
    });
    new Gauge({
      name: 'twinsearch_embed_images',
      help: 'Images embedded for requests',
      registers,
      collect() {
        this.set(embedder.stats().images);
      },
    });
    new Gauge({
      name: 'twinsearch_embed_queued',
      help: 'Images waiting for a free embedding slot',
      registers,
      collect() {
        this.set(embedder.stats().queued);
      },
    });
  }

  return {
    registry,
    observeRequest(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      latency.observe({ method, route }, seconds);
    },
    observeStage(stage, seconds) {
      stages.observe({ stage }, seconds);
    },
  };
}
