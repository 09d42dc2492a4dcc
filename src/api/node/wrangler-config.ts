/**
 * wrangler.toml + .dev.vars → the env a Workers module gets, as `wrangler dev` merges them:
 * `[vars]`, then the secrets in .dev.vars (dotenv syntax) next to the config file. Read with a
 * TOML parser (smol-toml) rather than wrangler itself: wrangler brings workerd and miniflare
 * (about 190 MB) and 2-3 s of import for reading three tables.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { parse as parseToml } from 'smol-toml';
import { CONFIG_KEYS, defaultIndexDir } from '../config/index.js';

export interface WranglerEnv {
  /** Absolute path of the Workers module (`main`). */
  main: string;
  crons: string[];
  env: Record<string, unknown>;
}

const DIR_KEYS = new Set(['MODEL_DIR', 'INDEX_DIR', 'GALLERY_DIR', 'STORE_DIR']);

/** The parts of a wrangler config this adapter reads. */
interface WranglerConfig {
  main?: unknown;
  vars?: unknown;
  triggers?: unknown;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Parses a wrangler config's text (TOML, or JSON for a `.json` file) and checks the fields used. */
export function parseWranglerConfig(text: string, path: string): { main: string | null; crons: string[]; vars: Record<string, unknown> } {
  const config = (path.endsWith('.json') ? JSON.parse(text) : parseToml(text)) as WranglerConfig;
  if (!isRecord(config)) throw new Error('not a table of settings');
  const vars = config.vars ?? {};
  if (!isRecord(vars)) throw new Error('[vars] must be a table');
  const crons = isRecord(config.triggers) ? (config.triggers.crons ?? []) : [];
  if (!Array.isArray(crons) || !crons.every((c) => typeof c === 'string')) throw new Error('[triggers] crons must be a list of cron strings');
  if (config.main !== undefined && typeof config.main !== 'string') throw new Error('"main" must be a path');
  return { main: config.main ?? null, crons, vars };
}

/** The secrets in .dev.vars next to the config, or none if there is no such file. */
async function readDevVars(configPath: string): Promise<Record<string, string>> {
  try {
    return parseEnv(await readFile(resolve(dirname(configPath), '.dev.vars'), 'utf8')) as Record<string, string>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}

/**
 * Reads the config; `overrides` (default process.env) replace the documented keys; relative
 * directories and `main` are resolved against the config file's folder.
 *
 * @example
 * const { main, crons, env } = await readWranglerEnv('wrangler.toml');
 * env.MODEL_DIR // '/srv/twinsearch/models/sample'
 */
export async function readWranglerEnv(configPath: string, overrides: Readonly<Record<string, string | undefined>> = process.env): Promise<WranglerEnv> {
  const path = resolve(configPath);
  const base = dirname(path);
  let config: ReturnType<typeof parseWranglerConfig>;
  let secrets: Record<string, string>;
  try {
    config = parseWranglerConfig(await readFile(path, 'utf8'), path);
    secrets = await readDevVars(path);
  } catch (error) {
    throw new Error(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (!config.main) throw new Error(`${path} has no "main" (the Workers module to serve)`);
  const env: Record<string, unknown> = { ...config.vars, ...secrets };
  for (const key of CONFIG_KEYS) {
    const value = overrides[key];
    if (value !== undefined && value !== '') env[key] = value;
  }
  // No INDEX_DIR: the model's own folder under index/ (see defaultIndexDir), next to this file.
  if (env.INDEX_DIR === undefined || env.INDEX_DIR === '') env.INDEX_DIR = defaultIndexDir(typeof env.MODEL_DIR === 'string' && env.MODEL_DIR ? env.MODEL_DIR : 'models/sample');
  for (const key of DIR_KEYS) {
    const value = env[key];
    if (typeof value === 'string' && value && !isAbsolute(value) && !value.startsWith('s3://')) env[key] = resolve(base, value);
  }
  return { main: resolve(base, config.main), crons: config.crons, env };
}
