/**
 * The load helper (scripts/load) against a local server that answers 200, answers 503, resets the
 * connection or closes it without an answer: every request the server saw is accounted for exactly
 * once on the client side (what the fault scenarios rely on to say "zero failed requests").
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFor, loadWhile, type LoadRequest } from '../scripts/load/index.js';

const seen = { ok: 0, fail: 0, reset: 0, closed: 0 };
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      // A little latency, so that requests are in flight when a run ends.
      setTimeout(() => {
        const what = req.url?.slice(1) as keyof typeof seen;
        seen[what]++;
        if (what === 'ok') res.end(`{"path":"${req.url}"}`);
        else if (what === 'fail') res.writeHead(503).end('{}');
        else if (what === 'reset') req.socket.resetAndDestroy();
        else req.socket.end(); // closed: a clean FIN, no answer
      }, 2);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});

const reset = (): void => {
  for (const k of Object.keys(seen) as (keyof typeof seen)[]) seen[k] = 0;
};

describe('loadWhile', () => {
  it('drains: every request the server saw is one answer, one error or one lost request', async () => {
    reset();
    let i = 0;
    // 20 in 23 succeed; the others fail each way in turn.
    const next = (): LoadRequest => {
      const k = i++ % 23;
      return { method: 'POST', path: k === 20 ? '/fail' : k === 21 ? '/reset' : k === 22 ? '/closed' : '/ok', body: 'x' };
    };
    const bodies = new Map<string, number>();
    const { load, value } = await loadWhile(
      { url, connections: 8, requests: next, onResponse: (status, body, request) => bodies.set(`${status} ${request.path} ${body}`, (bodies.get(`${status} ${request.path} ${body}`) ?? 0) + 1) },
      async () => {
        await new Promise((r) => setTimeout(r, 400));
        return 'done';
      },
    );
    expect(value).toBe('done');
    const total = seen.ok + seen.fail + seen.reset + seen.closed;
    expect(seen.ok).toBeGreaterThan(50);
    expect(seen.reset).toBeGreaterThan(0);
    expect(seen.closed).toBeGreaterThan(0);
    expect(load.sent).toBe(total);
    expect(load.statuses).toEqual({ 200: seen.ok, 503: seen.fail });
    // A reset is an error; a close without an answer leaves its request unanswered (lost).
    expect(Object.values(load.errors).reduce((a, b) => a + b, 0)).toBe(seen.reset);
    expect(Object.keys(load.errors)).toEqual(['ECONNRESET']);
    expect(load.unanswered).toBe(seen.closed);
    // Each answer is handed over with the request it answers.
    expect([...bodies.keys()].sort()).toEqual(['200 /ok {"path":"/ok"}', '503 /fail {}']);
  });

  it('stops the load when the work fails, and passes the error on', async () => {
    await expect(loadWhile({ url, connections: 2, requests: [{ method: 'GET', path: '/ok' }] }, async () => {
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('swap failed');
    })).rejects.toThrow('swap failed');
  });
});

describe('loadFor', () => {
  it('runs for the time given over a fixed request list, with autocannon\'s latency summary', async () => {
    const r = await loadFor({ url, connections: 4, requests: [{ method: 'GET', path: '/ok' }, { method: 'GET', path: '/fail' }] }, 1);
    expect(r.summary.duration).toBeGreaterThanOrEqual(1);
    expect(r.summary.latency.p50).toBeGreaterThan(0);
    expect(r.statuses['200']).toBeGreaterThan(10);
    expect(r.statuses['503']).toBeGreaterThan(10);
    // Cut off at the end: at most one request per connection.
    expect(r.unanswered).toBeLessThanOrEqual(4);
    expect(r.sent).toBe(r.statuses['200'] + r.statuses['503'] + r.unanswered);
  });
});
