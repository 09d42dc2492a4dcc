/** Cold starts: process start to the first 200 from /v1/search, of `npm run dev`'s adapter and of the Lambda handler. */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../../server/config.js';
import { spawnDevServer, type DevProcess } from '../../server/dev.js';
import { KEY } from './types.js';

export const searchHeaders = { authorization: `Bearer ${KEY}`, 'content-type': 'image/png' };

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

/**
 * Spawns `npm run dev`'s CLI and measures process start → first 200 from /v1/search (polled every
 * 10 ms on a port chosen beforehand, so the clock includes everything up to that answer).
 */
export async function startServer(config: string, workers: number, query: Buffer): Promise<{ dev: DevProcess; url: string; coldStartMs: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const dev = spawnDevServer(config, { port, env: { EMBED_WORKERS: String(workers), API_KEYS: KEY, ADMIN_KEYS: '' } });
  for (;;) {
    if (dev.child.exitCode !== null) throw new Error(`server exited during start-up: ${dev.stderr()}`);
    if (performance.now() - started > 120_000) throw new Error(`server did not answer within 120 s: ${dev.stderr()}`);
    try {
      const res = await fetch(`${url}/v1/search`, { method: 'POST', body: new Uint8Array(query), headers: searchHeaders });
      await res.arrayBuffer();
      if (res.status === 200) return { dev, url, coldStartMs: performance.now() - started };
    } catch {
      /* not listening yet */
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lambda cold start: a fresh process imports functions/lambda.ts and answers one /v1/search event (lambda-child.ts). */
export async function lambdaColdStart(env: Record<string, string>, query: Buffer): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/bench/http/lambda-child.ts')], {
    cwd: REPO_ROOT,
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
