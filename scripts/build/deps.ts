/**
 * Which npm packages the deployed code imports: the static import graph of the entry points
 * (esbuild resolves it, writing nothing), packages left external. The production dependencies must
 * cover it, or the deployed package fails at its first import of a development-only package.
 */
import { builtinModules } from 'node:module';
import { build } from 'esbuild';
import { REPO } from './build.js';

/** What runs deployed: the Lambda and Workers entries, the embedding worker thread, the index job, the Node adapter. */
export const DEPLOYED_ENTRIES = ['functions/lambda.ts', 'functions/worker.ts', 'src/embedding/worker.ts', 'src/cli/index.ts', 'src/cli/reindex.ts', 'src/cli/dev.ts'];

const BUILTINS = new Set(builtinModules);

/** The package name of a bare import ('@aws-sdk/client-s3/dist' → '@aws-sdk/client-s3'), or null for Node built-ins. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('node:') || BUILTINS.has(specifier.split('/')[0])) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * @example
 * await importedPackages(['functions/lambda.ts']); // ['@aws-sdk/client-s3', 'hono', 'sharp', …]
 */
export async function importedPackages(entries: readonly string[] = DEPLOYED_ENTRIES, repo: string = REPO): Promise<string[]> {
  const result = await build({ absWorkingDir: repo, entryPoints: [...entries], bundle: true, write: false, outdir: 'out', format: 'esm', platform: 'node', packages: 'external', metafile: true, logLevel: 'silent' });
  const packages = new Set<string>();
  for (const input of Object.values(result.metafile.inputs)) {
    for (const imp of input.imports) {
      const name = imp.external ? packageOf(imp.path) : null;
      if (name) packages.add(name);
    }
  }
  return [...packages].sort();
}
