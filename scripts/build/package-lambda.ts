/**
 * `npm run package:lambda`: dist/lambda.zip, the AWS Lambda deployment package.
 *
 *   index.mjs        exports `handler` (HTTP) and `scheduled` (the nightly re-index), from functions/lambda.ts
 *   src/, functions/ the build (npm run build)
 *   package.json     the project's, for "type": "module" and the dependency list
 *   node_modules/    the production dependencies for linux-x64 glibc, installed from package-lock.json
 *                    (sharp's prebuilt binaries from npm, hnswlib-node compiled here), unused files pruned
 *   model/           with --model DIR: a model inside the package (MODEL_DIR=model); else MODEL_DIR names s3://
 *
 * It checks with `objdump -T` that every native file loads on Amazon Linux 2023 (glibc 2.34) and
 * that the unpacked size is within Lambda's 250 MB, and writes both to dist/lambda-report.json.
 * Run it on linux-x64 (hnswlib-node is compiled for the machine that installs it); elsewhere use
 * the container image (Dockerfile).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { join, relative, sep } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { buildDist, REPO, SOURCE_DIRS } from './build.js';
import { AMAZON_LINUX_2023, scanNativeFiles, type NativeFile } from './native.js';
import { isPrunable } from './prune.js';

const run = promisify(execFile);

/** Lambda's limit on a function's unpacked deployment package (with its layers). */
export const LAMBDA_UNPACKED_LIMIT = 250 * 1024 * 1024;

export const ENTRY = `// AWS Lambda entry: handler = HTTP (function URL, API Gateway, ALB); scheduled = the nightly re-index.
export { handler, scheduled } from './functions/lambda.js';
`;

export interface LambdaReport {
  zip: string;
  zipBytes: number;
  unpackedBytes: number;
  /** Bytes per top-level part of the package (node_modules by package). */
  largest: { path: string; bytes: number }[];
  prunedBytes: number;
  native: NativeFile[];
  platform: typeof AMAZON_LINUX_2023;
  model: string | null;
  seconds: number;
}

/** Sizes of every file under `root`, relative paths with `/`. */
async function fileSizes(root: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    sizes.set(relative(root, path).split(sep).join('/'), (await stat(path)).size);
  }
  return sizes;
}

/** The package a node_modules path belongs to ('@aws-sdk/client-s3', 'hono'), or its top folder. */
function topPart(path: string): string {
  const parts = path.split('/');
  if (parts[0] !== 'node_modules') return parts[0];
  return parts[1].startsWith('@') ? parts.slice(0, 3).join('/') : parts.slice(0, 2).join('/');
}

/** Removes what `isPrunable` names under node_modules; returns the bytes removed. */
async function prune(root: string): Promise<number> {
  let bytes = 0;
  for (const [file, size] of await fileSizes(join(root, 'node_modules'))) {
    if (!isPrunable(file)) continue;
    await rm(join(root, 'node_modules', file));
    bytes += size;
  }
  return bytes;
}

/** The project's package.json without what only development needs (scripts, devDependencies, the optional tfjs-node). */
async function productionManifest(): Promise<string> {
  const manifest = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as Record<string, unknown>;
  // tfjs-node downloads a 300 MB libtensorflow: over Lambda's limit. The package runs on tfjs's wasm backend.
  for (const key of ['scripts', 'devDependencies', 'optionalDependencies']) delete manifest[key];
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * @example
 * const report = await packageLambda({ model: 'models/omniglot' });
 * report.unpackedBytes < LAMBDA_UNPACKED_LIMIT; // true
 */
export async function packageLambda(options: { model?: string; outDir?: string } = {}): Promise<LambdaReport> {
  if (platform() !== 'linux' || arch() !== 'x64') throw new Error(`package:lambda builds linux-x64 native modules and must run on linux-x64 (this is ${platform()}-${arch()}): build the container image instead (Dockerfile)`);
  const started = performance.now();
  const outDir = options.outDir ?? join(REPO, 'dist');
  const root = join(outDir, 'lambda');
  const zip = join(outDir, 'lambda.zip');
  await buildDist({ outDir });
  await rm(root, { recursive: true, force: true });
  await rm(zip, { force: true });
  await mkdir(root, { recursive: true });
  for (const dir of SOURCE_DIRS) await cp(join(outDir, dir), join(root, dir), { recursive: true });
  await writeFile(join(root, 'index.mjs'), ENTRY);
  await writeFile(join(root, 'package.json'), await productionManifest());
  await cp(join(REPO, 'package-lock.json'), join(root, 'package-lock.json'));
  // npm picks sharp's prebuilt binaries for the named platform; hnswlib-node compiles for this machine.
  await run('npm', ['ci', '--omit=dev', '--os=linux', '--cpu=x64', '--libc=glibc', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: root, maxBuffer: 1 << 26 });
  await rm(join(root, 'package-lock.json'));
  const prunedBytes = await prune(root);
  if (options.model) await cp(options.model, join(root, 'model'), { recursive: true });

  const native = await scanNativeFiles(join(root, 'node_modules'));
  const refused = native.filter((f) => f.tooNew.length);
  if (refused.length) throw new Error(`native files too new for Amazon Linux 2023: ${refused.map((f) => `${f.file} (${f.tooNew.join(', ')})`).join('; ')}`);

  const sizes = await fileSizes(root);
  const unpackedBytes = [...sizes.values()].reduce((a, b) => a + b, 0);
  if (unpackedBytes > LAMBDA_UNPACKED_LIMIT) throw new Error(`the package unpacks to ${(unpackedBytes / 2 ** 20).toFixed(1)} MiB, over Lambda's 250 MiB`);
  const parts = new Map<string, number>();
  for (const [path, size] of sizes) parts.set(topPart(path), (parts.get(topPart(path)) ?? 0) + size);
  const largest = [...parts].map(([path, bytes]) => ({ path, bytes })).sort((a, b) => b.bytes - a.bytes).slice(0, 12);

  // -X: no extra file attributes (uid/gid); files keep their modes (the addon need not be executable).
  await run('zip', ['-q', '-r', '-X', '-9', zip, '.'], { cwd: root, maxBuffer: 1 << 26 });
  const report: LambdaReport = {
    zip: relative(REPO, zip),
    zipBytes: (await stat(zip)).size,
    unpackedBytes,
    largest,
    prunedBytes,
    native,
    platform: AMAZON_LINUX_2023,
    model: options.model ?? null,
    seconds: Math.round(performance.now() - started) / 1000,
  };
  await writeFile(join(outDir, 'lambda-report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

if (import.meta.url === `file://${process.argv[1]}`) {
  const program = new Command('package:lambda')
    .description('Build dist/lambda.zip: the AWS Lambda package (handler + scheduled) with production node_modules for linux-x64')
    .option('--model <dir>', 'a model folder to ship inside the package (then MODEL_DIR=model)')
    .action(async (flags: { model?: string }) => {
      const r = await packageLambda({ model: flags.model });
      for (const f of r.native) console.log(`native ${f.file}: ${Object.entries(f.required).map(([k, v]) => `${k}_${v}`).join(' ')}`);
      console.log(`${r.zip}: ${mib(r.zipBytes)} zipped, ${mib(r.unpackedBytes)} unpacked (limit 250 MiB; ${mib(r.prunedBytes)} pruned), in ${r.seconds} s; report in dist/lambda-report.json`);
    });
  await program.parseAsync(process.argv).catch((error: unknown) => {
    console.error(`package:lambda: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
