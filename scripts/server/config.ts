/** The wrangler.toml (and .dev.vars) that `npm run dev`'s Node adapter reads, written for a script's server. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/**
 * Writes `dir/wrangler.toml` serving functions/worker.ts with `vars`, and `dir/.dev.vars` with the
 * secrets (API keys). Returns the config path.
 *
 * @example
 * const config = await writeWranglerConfig('tmp/server', 'twinsearch-bench', { MODEL_DIR: 'models/sample' }, { API_KEYS: key });
 */
export async function writeWranglerConfig(dir: string, name: string, vars: Record<string, string>, secrets: Record<string, string>): Promise<string> {
  await mkdir(dir, { recursive: true });
  const toml = [
    `name = ${JSON.stringify(name)}`,
    `main = ${JSON.stringify(join(REPO_ROOT, 'functions', 'worker.ts'))}`,
    'compatibility_date = "2025-09-01"',
    'compatibility_flags = ["nodejs_compat"]',
    'send_metrics = false',
    '[vars]',
    ...Object.entries(vars).map(([k, v]) => `${k} = ${JSON.stringify(v)}`),
    '',
  ].join('\n');
  const path = join(dir, 'wrangler.toml');
  await writeFile(path, toml);
  await writeFile(join(dir, '.dev.vars'), Object.entries(secrets).map(([k, v]) => `${k}=${v}\n`).join(''));
  return path;
}
