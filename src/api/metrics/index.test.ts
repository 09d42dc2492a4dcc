/**
 * The metrics a runtime exports, read the way Prometheus reads them: names, types and labels
 * dashboards rely on, the documented list, values that follow the index, and route labels that
 * stay a small fixed set whatever paths clients send.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Runtime } from '../runtime.js';
import { bearer, createFixture, fixtureRuntime, READ_KEY, syntheticPng, type Fixture } from '../../../test/fixtures/api.js';

let fx: Fixture;
let rt: Runtime;
const read = bearer(READ_KEY);

beforeAll(async () => {
  fx = await createFixture({ identities: 3, perIdentity: 2 });
  rt = await fixtureRuntime(fx, { env: { WATCH_INDEX: 'false', RELOAD_POLL_MS: '0' } });
});

afterAll(async () => {
  await rt?.close();
  await fx?.cleanup();
});

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };
const metricsJson = async () => (await rt.metrics.registry.getMetricsAsJSON()) as unknown as { name: string; type: string; values: Sample[] }[];
const metric = async (name: string) => (await metricsJson()).find((m) => m.name === name);

describe('metrics', () => {
  it('exports the documented metrics, no more and no fewer (besides Node process metrics)', async () => {
    const doc = await readFile(new URL('../../../docs/api.md', import.meta.url), 'utf8');
    const bullet = doc.slice(doc.indexOf('- `GET /metrics`:'), doc.indexOf('\n\n', doc.indexOf('- `GET /metrics`:')));
    // `twinsearch_process_*` and `twinsearch_nodejs_*` name the Node process metrics as a family.
    const documented = new Set([...bullet.matchAll(/`(twinsearch_[a-z_]+)/g)].map((m) => m[1]).filter((n) => !n.endsWith('_')));
    const exported = (await metricsJson()).map((m) => m.name).filter((n) => !n.startsWith('twinsearch_process_') && !n.startsWith('twinsearch_nodejs_'));
    expect(new Set(exported)).toEqual(documented);
    expect((await metricsJson()).some((m) => m.name === 'twinsearch_nodejs_eventloop_lag_seconds')).toBe(true);
  });

  it('counts requests by method, registered route and status, and times them', async () => {
    await rt.app.request('/v1/search?k=1', { method: 'POST', body: await syntheticPng(1000), headers: read });
    await rt.app.request('/v1/search?k=0', { method: 'POST', body: await syntheticPng(1000), headers: read });
    const requests = await metric('twinsearch_http_requests_total');
    expect(requests?.type).toBe('counter');
    expect(requests?.values).toEqual(
      expect.arrayContaining([
        { labels: { method: 'POST', route: '/v1/search', status: '200' }, value: 1 },
        { labels: { method: 'POST', route: '/v1/search', status: '400' }, value: 1 },
      ]),
    );
    const latency = await metric('twinsearch_http_request_duration_seconds');
    expect(latency?.type).toBe('histogram');
    const count = latency?.values.find((v) => v.metricName === 'twinsearch_http_request_duration_seconds_count' && v.labels.route === '/v1/search');
    expect(count).toMatchObject({ labels: { method: 'POST', route: '/v1/search' }, value: 2 });
  });

  it('times each stage of a request under a fixed set of stage labels', async () => {
    await rt.app.request('/v1/search', { method: 'POST', body: await syntheticPng(2000), headers: read });
    const stages = await metric('twinsearch_stage_duration_seconds');
    const counted = new Set(stages?.values.filter((v) => v.metricName?.endsWith('_count') && v.value > 0).map((v) => v.labels.stage));
    expect(counted).toEqual(new Set(['decode', 'embed', 'search', 'serialise']));
  });

  it('puts an observation in the bucket of its duration', async () => {
    rt.metrics.observeRequest('GET', '/healthz', 200, 0.003);
    const buckets = (await metric('twinsearch_http_request_duration_seconds'))?.values.filter((v) => v.metricName?.endsWith('_bucket') && v.labels.route === '/healthz') ?? [];
    const at = (le: number) => buckets.find((b) => b.labels.le === le)?.value;
    expect({ le002: at(0.002), le005: at(0.005), inf: buckets.find((b) => b.labels.le === '+Inf')?.value }).toEqual({ le002: 0, le005: 1, inf: 1 });
  });

  it('follows the serving index: ready, version and model, sizes, swaps, refusals', async () => {
    const info = (await (await rt.app.request('/v1/index', { headers: read })).json()) as { version: string; model: { id: string } };
    expect((await metric('twinsearch_index_ready'))?.values).toEqual([{ labels: {}, value: 1 }]);
    expect((await metric('twinsearch_index_info'))?.values).toEqual([{ labels: { version: info.version, model: info.model.id }, value: 1 }]);
    expect((await metric('twinsearch_index_size'))?.values).toEqual([
      { labels: { kind: 'images' }, value: 6 },
      { labels: { kind: 'identities' }, value: 3 },
      { labels: { kind: 'deleted' }, value: 0 },
    ]);
    expect((await metric('twinsearch_index_swaps'))?.values[0].value).toBe(1);
    expect((await metric('twinsearch_index_reload_failures'))?.values[0].value).toBe(0);
    expect((await metric('twinsearch_index_refused'))?.values).toEqual([]);
    const passes = (await metric('twinsearch_embed_passes'))?.values[0].value ?? 0;
    await rt.app.request('/v1/embed', { method: 'POST', body: await syntheticPng(3), headers: read });
    expect((await metric('twinsearch_embed_passes'))?.values[0].value).toBe(passes + 1);
  });

  it('keeps route labels to the registered routes whatever paths clients send (bounded cardinality)', async () => {
    const png = await syntheticPng(7);
    for (let i = 0; i < 40; i++) {
      const id = `visitor-${i}-${Math.random().toString(36).slice(2)}`;
      await rt.app.request(`/v1/gallery/images/${i}${id}/thumbnail`, { headers: read });
      await rt.app.request(`/nothing/here/${id}`, { headers: read });
      await rt.app.request(`/v1/gallery/${id}/deep/${i}`, { method: 'DELETE', headers: read }); // 403: a read key
      await rt.app.request(`/search?k=${i + 1}&tag=${id}`, { method: 'POST', body: png, headers: read });
    }
    const registered = new Set([...rt.app.routes.filter((r) => r.method !== 'ALL').map((r) => r.path), 'unmatched']);
    const series = (await metric('twinsearch_http_requests_total'))?.values ?? [];
    const routes = new Set(series.map((v) => String(v.labels.route)));
    for (const route of routes) expect({ route, registered: registered.has(route) }).toEqual({ route, registered: true });
    expect([...routes]).toEqual(expect.arrayContaining(['/v1/gallery/images/:label/thumbnail', 'unmatched', '/v1/gallery/:identity{[\\s\\S]+}', '/search']));
    expect(series.length).toBeLessThan(20); // 160 requests to 160 distinct paths
    const statuses = new Set(series.map((v) => String(v.labels.status)));
    for (const status of statuses) expect(status).toMatch(/^[1-5]\d\d$/);
  });
});
