/**
 * The API through a real socket: the wrangler-compatible Node adapter reading a wrangler.toml
 * and .dev.vars, serving functions/worker.ts; a hot swap under 16 concurrent clients; the
 * scheduled re-index; graceful drain; the loopback rule; the CLI with SIGTERM.
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { existsSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/api/config/index.js';
import { silentLogger } from '../src/api/log.js';
import { startNodeAdapter, type NodeAdapter } from '../src/api/node/index.js';
import { SearchResponseSchema } from '../src/api/schemas/index.js';
import { ADMIN_KEY, bearer, createFixture, READ_KEY, storeEnv, syntheticPng, type Fixture } from './fixtures/api.js';

const WORKER = resolve('functions/worker.ts');

/** A wrangler.toml (relative paths, as in the repo's) and optionally a .dev.vars with keys. */
async function writeConfig(fx: Fixture, options: { keys: boolean; vars?: Record<string, string> }): Promise<string> {
  const vars = { MODEL_DIR: 'model', INDEX_DIR: 'index', GALLERY_DIR: 'gallery', DEFAULT_K: '2', EMBED_WORKERS: '1', RELOAD_POLL_MS: '100', LOG_LEVEL: 'silent', ...storeEnv(fx.store), ...options.vars };
  const toml = [
    'name = "twinsearch-test"',
    `main = ${JSON.stringify(WORKER)}`,
    'compatibility_date = "2025-09-01"',
    'compatibility_flags = ["nodejs_compat"]',
    'send_metrics = false',
    '[vars]',
    ...Object.entries(vars).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
    '[triggers]',
    'crons = ["0 3 * * *"]',
    '',
  ].join('\n');
  const path = join(fx.dir, 'wrangler.toml');
  await writeFile(path, toml);
  if (options.keys) await writeFile(join(fx.dir, '.dev.vars'), `API_KEYS=${READ_KEY}\nADMIN_KEYS=${ADMIN_KEY}\n`);
  return path;
}

const search = (server: NodeAdapter, body: Uint8Array<ArrayBuffer>, headers: Record<string, string> = bearer(READ_KEY)) => fetch(`${server.url}/v1/search`, { method: 'POST', body, headers });

describe('Node adapter with keys', () => {
  let fx: Fixture;
  let server: NodeAdapter;
  beforeAll(async () => {
    fx = await createFixture({ identities: 4, perIdentity: 3 });
    server = await startNodeAdapter({ configPath: await writeConfig(fx, { keys: true }), port: 0, overrides: {}, log: silentLogger });
  });
  afterAll(async () => {
    await server?.close();
    await fx?.cleanup();
  });

  it('reads wrangler.toml [vars] and .dev.vars secrets, and serves the module over a socket', async () => {
    expect(server.env).toMatchObject({ MODEL_DIR: fx.modelDir, DEFAULT_K: '2', API_KEYS: READ_KEY });
    expect(server.crons).toEqual(['0 3 * * *']);
    const res = await search(server, await syntheticPng(3001));
    expect(res.status).toBe(200);
    const body = SearchResponseSchema.parse(await res.json());
    expect(body.decision).toMatchObject({ identity: 'id003', match: true });
    expect(body.matches).toHaveLength(2); // DEFAULT_K from wrangler.toml
    expect((await search(server, await syntheticPng(1), {})).status).toBe(401);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('swaps a new snapshot in while 16 clients search: zero failed requests', async () => {
    const png = await syntheticPng(2002);
    const before = (await (await fetch(`${server.url}/readyz`)).json()) as { index: { version: string } };
    let stop = false;
    const statuses = new Map<number, number>();
    const versions = new Set<string>();
    const client = async (): Promise<void> => {
      while (!stop) {
        const res = await search(server, png);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 200) versions.add(SearchResponseSchema.parse(await res.json()).index.version);
        else await res.arrayBuffer();
      }
    };
    const clients = Array.from({ length: 16 }, client);
    const swapped = new Set<string>();
    for (let round = 0; round < 2; round++) {
      await writeFile(join(fx.galleryDir, 'id000', `new-${round}.png`), await syntheticPng(900_000 + round));
      const version = await fx.index('reindex');
      // Wait until the server serves it (fs.watch or the 100 ms poll).
      for (let i = 0; i < 200; i++) {
        const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { index: { version: string } };
        if (ready.index.version === version) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      swapped.add(version);
    }
    await new Promise((r) => setTimeout(r, 100));
    stop = true;
    await Promise.all(clients);
    expect([...statuses.keys()]).toEqual([200]);
    expect([...statuses.values()][0]).toBeGreaterThan(16);
    for (const v of [before.index.version, ...swapped]) expect(versions).toContain(v);
  });

  it('fires the scheduled handler: a re-index, swapped in', async () => {
    await writeFile(join(fx.galleryDir, 'id001', 'cron.png'), await syntheticPng(123_123));
    const before = (await (await fetch(`${server.url}/v1/index`, { headers: bearer(READ_KEY) })).json()) as { version: string; images: number };
    await server.runScheduled('0 3 * * *');
    const after = (await (await fetch(`${server.url}/v1/index`, { headers: bearer(READ_KEY) })).json()) as { version: string; images: number };
    expect(after.version).not.toBe(before.version);
    expect(after.images).toBe(before.images + 1);
  });

  it('refuses "." and ".." segments in a gallery path as the client sent it (curl --path-as-is), never resolving them', async () => {
    const png = await syntheticPng(424_242);
    const paths = ['/v1/gallery/x/../y', '/v1/gallery/a/./b', '/v1/gallery/x/%2e%2e/y', '/v1/gallery/x/.%2E/y', '/v1/gallery/%2e/b', '/v1/gallery/x/..', '/v1/%67allery/x/../y', '/v1/gallery/../search', '/gallery/x/../y'];
    for (const path of paths) {
      const res = await rawRequest(server, 'POST', path, png, bearer(ADMIN_KEY));
      expect({ path, status: res.status, code: res.code }).toEqual({ path, status: 400, code: 'INVALID_IDENTITY' });
    }
    expect(await rawRequest(server, 'DELETE', '/v1/gallery/id000/../id001', undefined, bearer(ADMIN_KEY))).toMatchObject({ status: 400, code: 'INVALID_IDENTITY' });
    // An absolute-form request target (as a proxy would send it) is checked the same way.
    expect(await rawRequest(server, 'POST', `${server.url}/v1/gallery/x/../y`, png, bearer(ADMIN_KEY))).toMatchObject({ status: 400, code: 'INVALID_IDENTITY' });
    const page = (await (await fetch(`${server.url}/v1/gallery?limit=1000`, { headers: bearer(READ_KEY) })).json()) as { identities: { identity: string }[] };
    expect(page.identities.map((i) => i.identity)).toEqual(['id000', 'id001', 'id002', 'id003']);
  });
});

/** One request with its target sent byte for byte as given (fetch would resolve "." and ".." first). */
async function rawRequest(server: NodeAdapter, method: string, target: string, body: Uint8Array | undefined, headers: Record<string, string>): Promise<{ status: number; code?: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ host: server.host, port: server.port, method, path: target, headers: { ...headers, 'content-type': 'image/png' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        resolvePromise({ status: res.statusCode ?? 0, code: (JSON.parse(text) as { error?: { code?: string } }).error?.code });
      });
    });
    req.on('error', reject);
    req.end(body ? Buffer.from(body) : undefined);
  });
}

// Draining does not depend on the vector store: run once, with the local one.
describe.skipIf(process.env.TWINSEARCH_TEST_STORE === 'pgvector')('graceful shutdown', () => {
  it('stops accepting, finishes the request in flight, then closes', async () => {
    const fx = await createFixture({ identities: 2, perIdentity: 2 });
    try {
      const server = await startNodeAdapter({ configPath: await writeConfig(fx, { keys: true, vars: { EMBED_WORKERS: '0' } }), port: 0, overrides: {}, log: silentLogger });
      const png = await syntheticPng(1001);
      // A request whose body is still arriving when shutdown starts.
      const response = new Promise<{ status: number; body: string; connection: string | undefined }>((resolvePromise, reject) => {
        const req = httpRequest(`${server.url}/v1/search`, { method: 'POST', headers: { ...bearer(READ_KEY), 'content-type': 'image/png', 'transfer-encoding': 'chunked' } }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
        });
        req.on('error', reject);
        req.write(png.subarray(0, 10));
        setTimeout(() => req.end(png.subarray(10)), 300);
      });
      await new Promise((r) => setTimeout(r, 100));
      expect(server.inFlight()).toBe(1);
      const closed = server.close();
      await new Promise((r) => setTimeout(r, 50));
      await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
      const res = await response;
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ decision: { identity: 'id001' } });
      expect(res.connection).toBe('close');
      await closed;
      expect(server.inFlight()).toBe(0);
    } finally {
      await fx.cleanup();
    }
  });
  /**
   * A server on a small fixture (grace 200 ms) and a raw client in another process running `script`
   * (given the server's port and a marker-file path), whose stdout lines are JSON results. `drive` blocks
   * and shuts down the server; the results come back once the client has exited.
   */
  async function blockedShutdown(script: (port: string, marker: string) => string, drive: (server: NodeAdapter, marker: string, stdout: () => string) => Promise<void>): Promise<unknown[]> {
    const fx = await createFixture({ identities: 2, perIdentity: 2 });
    try {
      const server = await startNodeAdapter({ configPath: await writeConfig(fx, { keys: true, vars: { EMBED_WORKERS: '0' } }), port: 0, overrides: {}, idleGraceMs: 200, log: silentLogger });
      const marker = join(fx.dir, 'client-marker');
      const client = spawn(process.execPath, ['-e', script(new URL(server.url).port, marker)], { stdio: ['ignore', 'pipe', 'inherit'] });
      let output = '';
      client.stdout.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<void>((r) => client.on('exit', () => r()));
      await drive(server, marker, () => output);
      await exited;
      return output.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as unknown);
    } finally {
      await fx.cleanup();
    }
  }

  /** Busy-waits (the event loop stays blocked) until `file` exists, for at most 10 s. */
  function blockUntilExists(file: string): void {
    const giveUp = performance.now() + 10_000;
    while (!existsSync(file) && performance.now() < giveUp);
  }

  it('answers a request that arrived on an idle keep-alive connection while the event loop was blocked', async () => {
    // The grace timer can fire before the poll phase reads a request that arrived while the loop was
    // busy; shutdown must look at the sockets once more before it decides that a connection is idle.
    // A raw keep-alive client: one request, then (after "ready") a second on the same socket 150 ms
    // later; it creates the marker once the second request is written.
    const results = await blockedShutdown(
      (port, marker) => `
        const socket = require('node:net').connect(${port}, '127.0.0.1');
        const get = 'GET /healthz HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n';
        let data = '';
        let second = false;
        socket.on('data', (c) => {
          data += c;
          if (!second && /\\r\\n\\r\\n[\\s\\S]*\\}/.test(data)) {
            second = true;
            data = '';
            process.stdout.write('ready\\n');
            setTimeout(() => socket.write(get, () => require('node:fs').writeFileSync(${JSON.stringify(marker)}, '')), 150);
          }
        });
        socket.on('error', (e) => { console.log(JSON.stringify({ error: e.code })); process.exit(0); });
        socket.on('close', () => { console.log(JSON.stringify({ status: /^HTTP\\/1.1 (\\d+)/.exec(data)?.[1] ?? null })); process.exit(0); });
        socket.write(get);
      `,
      async (server, marker, stdout) => {
        while (!stdout().includes('ready')) await new Promise((r) => setTimeout(r, 5));
        const closed = server.close();
        // Block the loop until the second request has been sent, and on past the grace period: it waits unread.
        blockUntilExists(marker);
        const until = performance.now() + 300;
        while (performance.now() < until);
        await closed;
      },
    );
    expect(results.at(-1)).toEqual({ status: '200' });
  });

  it('answers every connection still waiting in the listen backlog when shutdown began', async () => {
    // With the loop blocked, new connections and their requests wait in the kernel's accept backlog, and
    // Node accepts one connection per loop iteration. Closing the listener before the backlog is
    // empty resets the rest, requests fully sent included.
    const connections = 8;
    const results = await blockedShutdown(
      (port, marker) => `
        const fs = require('node:fs');
        while (!fs.existsSync(${JSON.stringify(marker + '.go')}));
        let written = 0;
        let closed = 0;
        for (let i = 0; i < ${connections}; i++) {
          const socket = require('node:net').connect(${port}, '127.0.0.1');
          let data = '';
          const report = (result) => { console.log(JSON.stringify(result)); if (++closed === ${connections}) process.exit(0); };
          socket.on('data', (c) => { data += c; });
          socket.on('error', (e) => { report({ error: e.code }); socket.destroy(); });
          socket.on('close', () => { if (!socket.errored) report({ status: /^HTTP\\/1.1 (\\d+)/.exec(data)?.[1] ?? null }); });
          socket.write('GET /healthz HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n', () => { if (++written === ${connections}) fs.writeFileSync(${JSON.stringify(marker)}, ''); });
        }
      `,
      async (server, marker) => {
        // Block the loop from before the client connects until every request is written, then shut down
        // in the same tick: the connections are all still in the backlog.
        writeFileSync(marker + '.go', '');
        blockUntilExists(marker);
        await server.close();
      },
    );
    expect(results).toEqual(Array.from({ length: connections }, () => ({ status: '200' })));
  });
});

describe('without keys', () => {
  let fx: Fixture;
  let config: string;
  beforeAll(async () => {
    fx = await createFixture({ identities: 2, perIdentity: 1 });
    config = await writeConfig(fx, { keys: false, vars: { EMBED_WORKERS: '0' } });
  });
  afterAll(async () => {
    await fx?.cleanup();
  });

  it('refuses to bind anything but loopback', async () => {
    await expect(startNodeAdapter({ configPath: config, host: '0.0.0.0', port: 0, overrides: {}, log: silentLogger })).rejects.toThrow(ConfigError);
  });

  it('serves on loopback with every route open', async () => {
    const server = await startNodeAdapter({ configPath: config, port: 0, overrides: {}, log: silentLogger });
    try {
      expect((await search(server, await syntheticPng(1000), {})).status).toBe(200);
      expect((await fetch(`${server.url}/v1/gallery/id000`, { method: 'DELETE' })).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('the CLI (npm run dev) serves, then drains and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/dev.ts', '--config', config, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, API_KEYS: '', ADMIN_KEYS: '' } });
    let stderr = '';
    const url = await new Promise<string>((resolvePromise, reject) => {
      child.stderr.on('data', (c: Buffer) => {
        stderr += c.toString();
        const m = /twinsearch API on (http:\/\/[^\s]+)/.exec(stderr);
        if (m) resolvePromise(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`dev exited with ${code}: ${stderr}`)));
    });
    expect(stderr).toContain('NO API KEYS CONFIGURED');
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 60_000);
});
