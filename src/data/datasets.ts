/**
 * Where the shared datasets live. They are never copied into the repo: the default is the `shared/datasets`
 * folder beside the repo checkout, overridable with the `TWINSEARCH_DATASETS` environment variable.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Environment variable naming the datasets folder. */
export const DATASETS_ENV = 'TWINSEARCH_DATASETS';

/** The repository root (this file is `<root>/src/data/datasets.ts`). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The datasets folder: `$TWINSEARCH_DATASETS` if set (relative paths resolve against the current
 * directory), else `../shared/datasets` relative to the repo root.
 *
 * @example
 * join(datasetsDir(), 'omniglot/images_background'); // '/work/shared/datasets/omniglot/images_background'
 */
export function datasetsDir(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env[DATASETS_ENV];
  return configured ? resolve(configured) : resolve(REPO_ROOT, '../shared/datasets');
}
