/**
 * `npm run build`: the deployable JavaScript in dist/, laid out as the repository is
 * (dist/src/…, dist/functions/…), so every `new URL('./x.js', import.meta.url)` — worker entries,
 * the demo folder — resolves in the build as in the sources, and packages (tfjs's wasm binaries
 * included) resolve from node_modules as they do for the sources.
 *
 * Each file is transpiled on its own by esbuild (no bundling): the tsconfig's `isolatedModules` and
 * `verbatimModuleSyntax` make per-file output what tsc would emit, in under a second where tsc
 * takes 17 s of CPU (measured: docs/deploy.md). Types are checked by `npm run typecheck`.
 * Non-TypeScript files (the demo page) are copied as they are.
 */
import { cp, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** The folders whose code serves and indexes; scripts/ and test/ stay out of the build. */
export const SOURCE_DIRS = ['src', 'functions'] as const;

/** Files only the sources need: the tests, and the tsx shim that starts TypeScript workers. */
const isSourcesOnly = (file: string): boolean => /\.(test|fixture)\.ts$/.test(file) || file.endsWith('ts-worker-boot.mjs');

/** Every file under the source folders, relative to the repository. */
async function sourceFiles(repo: string): Promise<string[]> {
  const files: string[] = [];
  for (const dir of SOURCE_DIRS) {
    const entries = await readdir(join(repo, dir), { recursive: true, withFileTypes: true });
    for (const e of entries) if (e.isFile()) files.push(relative(repo, join(e.parentPath, e.name)));
  }
  return files.sort();
}

export interface BuildResult {
  outDir: string;
  /** TypeScript files transpiled. */
  modules: number;
  /** Other files copied (demo assets). */
  assets: number;
  ms: number;
}

/**
 * @example
 * const { modules, ms } = await buildDist(); // dist/src/…, dist/functions/…
 */
export async function buildDist(options: { repo?: string; outDir?: string } = {}): Promise<BuildResult> {
  const started = performance.now();
  const repo = options.repo ?? REPO;
  const outDir = options.outDir ?? join(repo, 'dist');
  for (const dir of SOURCE_DIRS) await rm(join(outDir, dir), { recursive: true, force: true });
  const files = (await sourceFiles(repo)).filter((f) => !isSourcesOnly(f));
  const modules = files.filter((f) => f.endsWith('.ts'));
  const assets = files.filter((f) => !f.endsWith('.ts'));
  await build({
    absWorkingDir: repo,
    entryPoints: modules,
    outdir: outDir,
    outbase: '.',
    bundle: false,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    tsconfig: join(repo, 'tsconfig.json'),
    logLevel: 'warning',
  });
  for (const f of assets) await cp(join(repo, f), join(outDir, f));
  return { outDir, modules: modules.length, assets: assets.length, ms: Math.round(performance.now() - started) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await buildDist();
  console.log(`built ${result.modules} modules and ${result.assets} assets into ${relative(process.cwd(), result.outDir) || '.'} in ${result.ms} ms`);
}
