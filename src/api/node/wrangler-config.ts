/**
 * wrangler.toml + .dev.vars → the env a Workers module gets, read with wrangler's own readers
 * (`unstable_readConfig`, `unstable_getVarsForDev`: `[vars]`, then the secrets in .dev.vars, as
 * `wrangler dev` merges them) in a worker thread. Deliberately light to import: callers start
 * it first and load the server's heavy modules while wrangler loads.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CONFIG_KEYS, defaultIndexDir } from '../config/index.js';

export interface WranglerEnv {
  /** Absolute path of the Workers module (`main`). */
  main: string;
  crons: string[];
  env: Record<string, unknown>;
}

const DIR_KEYS = new Set(['MODEL_DIR', 'INDEX_DIR', 'GALLERY_DIR', 'STORE_DIR']);

/** Quiets wrangler's telemetry, error reports, banner and Cloudflare lookups (it would try the network); the worker thread inherits these. */
function quietWrangler(): void {
  process.env.WRANGLER_SEND_METRICS ??= 'false';
  process.env.WRANGLER_SEND_ERROR_REPORTS ??= 'false';
  process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';
  process.env.WRANGLER_HIDE_BANNER ??= 'true';
}

type Reply = { ok: true; main: string | null; crons: string[]; vars: Record<string, unknown> } | { ok: false; error: string };

/**
 * Reads the config; `overrides` (default process.env) replace the documented keys; relative
 * directories are resolved against the config file's folder.
 *
 * @example
 * const { main, crons, env } = await readWranglerEnv('wrangler.toml');
 * env.MODEL_DIR // '/srv/twinsearch/models/sample'
 */
export async function readWranglerEnv(configPath: string, overrides: Readonly<Record<string, string | undefined>> = process.env): Promise<WranglerEnv> {
  const path = resolve(configPath);
  quietWrangler();
  const reply = await new Promise<Reply>((resolveReply, reject) => {
    const worker = new Worker(new URL('./wrangler-worker.mjs', import.meta.url), { workerData: { configPath: path } });
    worker.once('message', (message: Reply) => {
      resolveReply(message);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the wrangler config reader exited with code ${code}`)));
  });
  if (!reply.ok) throw new Error(`cannot read ${path}: ${reply.error}`);
  if (!reply.main) throw new Error(`${path} has no "main" (the Workers module to serve)`);
  const env: Record<string, unknown> = { ...reply.vars };
  for (const key of CONFIG_KEYS) {
    const value = overrides[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  const base = dirname(path);
  // No INDEX_DIR: the model's own folder under index/ (see defaultIndexDir), next to this file.
  if (env.INDEX_DIR === undefined || env.INDEX_DIR === '') env.INDEX_DIR = defaultIndexDir(typeof env.MODEL_DIR === 'string' && env.MODEL_DIR ? env.MODEL_DIR : 'models/sample');
  for (const key of DIR_KEYS) {
    const value = env[key];
    if (typeof value === 'string' && value && !isAbsolute(value) && !value.startsWith('s3://')) env[key] = resolve(base, value);
  }
  return { main: reply.main, crons: reply.crons, env };
}
