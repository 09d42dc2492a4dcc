/** `npm run dev`'s CLI (src/cli/dev.ts) as a child process: for cold starts and for signals sent to a real server process. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './config.js';

export interface DevProcess {
  child: ChildProcessWithoutNullStreams;
  /** Its address, once it has logged it (rejects if it exits first). */
  url: Promise<string>;
  /** The last 4,000 characters it wrote to stderr (for error messages). */
  stderr(): string;
}

/**
 * Spawns the dev server on `config` (one plain node process: a signal reaches the server itself).
 *
 * @example
 * const dev = spawnDevServer(config, { port: 0, env: { EMBED_WORKERS: '0' } }); const url = await dev.url;
 */
export function spawnDevServer(config: string, options: { port?: number; env?: Record<string, string> } = {}): DevProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src/cli/dev.ts'), '--config', config, '--port', String(options.port ?? 0), '--no-crons'], {
    cwd: REPO_ROOT,
    stdio: 'pipe',
    env: { ...process.env, ...options.env },
  });
  child.stdin.end();
  child.stdout.resume();
  let stderr = '';
  const url = new Promise<string>((ok, fail) => {
    child.stderr.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-4000);
      const m = /twinsearch API on (http:\/\/\S+)/.exec(stderr);
      if (m) ok(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`dev server exited with ${code}: ${stderr}`)));
  });
  url.catch(() => {}); // callers that poll instead of awaiting the address see the exit themselves
  return { child, url, stderr: () => stderr };
}

/** SIGTERM, then SIGKILL after 15 s; resolves once the process has exited. */
export async function stopProcess(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}
