/**
 * The Lambda package tested as deployed, with no AWS: dist/lambda.zip is unpacked into an empty
 * folder made read-only (and, when run as root, invoked as `nobody`, since root writes through
 * read-only modes), next to nothing but its own node_modules. The model and the gallery are put in
 * a bucket of the S3 test server on loopback (miniflare's R2 over the S3 API); then, under each Node
 * binary given:
 *
 *   1. a `scheduled` invocation with an EventBridge event builds the index into the bucket;
 *   2. a fresh process (a cold start) serves `handler` invocations: function URL, API Gateway REST
 *      and ALB events, each searching a gallery image and expecting its identity, a health check,
 *      and a request without a key (401 with its JSON error code).
 *
 *   npx tsx scripts/build/smoke-lambda.ts [--zip dist/lambda.zip] [--node <binary>]...   (default: this Node, Node 22 and Node 24)
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Command } from 'commander';
import { albEvent, functionUrlEvent, restApiEvent, scheduledEvent, type HttpEventOptions } from '../../test/fixtures/lambda-events.js';
import { syntheticPng, writeSyntheticGallery, writeTinyModel } from '../../test/fixtures/gallery.js';
import { freshPrefix, NODE22, startS3Server, uploadFolder } from '../../test/fixtures/s3.js';
import { ensureNode24Installed, NODE24 } from '../../test/fixtures/pinned.js';
import { REPO } from './build.js';

const run = promisify(execFile);
const INVOKER = fileURLToPath(new URL('./lambda-invoke.mjs', import.meta.url));
const READ_KEY = 'smoke-read-key-0123456789';
const ADMIN_KEY = 'smoke-admin-key-0123456789';
/** Gallery: 3 identities x 2 images; image `i` of identity `n` is syntheticPng(n * 1000 + i). */
const IDENTITIES = 3;
const PER_IDENTITY = 2;

interface Invocation {
  name: string;
  export: 'handler' | 'scheduled';
  event: unknown;
}

interface InvokeOutput {
  node: string;
  importMs: number;
  results: { name: string; ms: number; result?: unknown; error?: string }[];
  /** The messages the app logged (JSON lines on stderr). */
  logs: string[];
}

/** What an HTTP invocation must answer: its status, and for a search the identity decided. */
interface HttpCheck {
  status: number;
  identity?: string;
  code?: string;
}

export interface SmokeRun {
  node: string;
  /** The scheduled re-index, whole invocation (cold start included). */
  reindexMs: number;
  /** Importing index.mjs in the serving process. */
  importMs: number;
  /** The first request (runtime start: model, index download and open) and the ones after it. */
  firstRequestMs: number;
  requestMs: number[];
}

/** Unzips into a fresh folder and makes it read-only; returns the package folder. */
async function unpack(zip: string, parent: string): Promise<string> {
  const dir = join(parent, 'task');
  await mkdir(dir);
  await run('unzip', ['-q', zip, '-d', dir], { maxBuffer: 1 << 26 });
  await run('chmod', ['-R', 'a-w,a+rX', dir]);
  for (const up of [parent, dirname(parent)]) if (up.startsWith(tmpdir())) await chmod(up, 0o755);
  for (let up = dirname(dir); up !== dirname(up); up = dirname(up)) {
    if ((await readdir(up)).includes('node_modules')) throw new Error(`${up} holds a node_modules: the package would not be alone`);
  }
  return dir;
}

/**
 * Copies the invoker and each Node binary into `parent/bin`, readable and runnable by all: `nobody`
 * cannot reach them inside a checkout under a private folder (a clone in a `mktemp -d` folder, 0700).
 */
async function stageRunnables(parent: string, nodes: readonly string[]): Promise<{ invoker: string; nodes: string[] }> {
  const bin = join(parent, 'bin');
  await mkdir(bin);
  const invoker = join(bin, 'lambda-invoke.mjs');
  await copyFile(INVOKER, invoker);
  const staged: string[] = [];
  for (const [i, node] of nodes.entries()) {
    staged.push(join(bin, `node-${i}`));
    await copyFile(await realpath(node), staged[i]!);
  }
  await run('chmod', ['-R', 'a-w,a+rX', bin]);
  return { invoker, nodes: staged };
}

/** The app's log records among a process's stderr (pino JSON lines; anything else is skipped). */
function logRecords(stderr: string): { level: number; msg: string; line: string }[] {
  return stderr.split('\n').flatMap((line) => {
    try {
      const { level, msg } = JSON.parse(line) as { level?: number; msg?: string };
      return typeof level === 'number' ? [{ level, msg: msg ?? '', line }] : [];
    } catch {
      return [];
    }
  });
}

/** Runs the invoker under `node`, as `nobody` when this process is root. */
async function invoke(node: string, invoker: string, dir: string, scratch: string, env: Record<string, string>, invocations: Invocation[]): Promise<InvokeOutput> {
  const job = join(scratch, `job-${Date.now()}.json`);
  await writeFile(job, JSON.stringify({ invocations }));
  await chmod(job, 0o644);
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  try {
    const { stdout, stderr } = await run(node, [invoker, dir, job], { env, cwd: dir, maxBuffer: 1 << 26, timeout: 300_000, ...asNobody });
    // The app logs JSON lines (pino) on stderr: an error logged (embedding workers that failed to
    // start, say, while the serving thread stands in) fails the run even though requests succeeded.
    const records = logRecords(stderr);
    const errors = records.filter((r) => r.level >= 50).map((r) => r.line);
    if (errors.length) throw new Error(`logged errors:\n  ${errors.join('\n  ')}`);
    return { ...(JSON.parse(stdout.trim().split('\n').at(-1) as string) as Omit<InvokeOutput, 'logs'>), logs: records.map((r) => r.msg) };
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${node} ${invoker} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** The failures of one HTTP invocation against its check (none when it passed). */
function checkHttp(name: string, result: unknown, check: HttpCheck): string[] {
  const r = result as { statusCode?: number; body?: string; isBase64Encoded?: boolean } | undefined;
  if (!r || typeof r.statusCode !== 'number') return [`${name}: not an HTTP result: ${JSON.stringify(result)?.slice(0, 200)}`];
  const text = r.body === undefined ? '' : r.isBase64Encoded ? Buffer.from(r.body, 'base64').toString() : r.body;
  const fail = (why: string): string[] => [`${name}: ${why} (status ${r.statusCode}, body ${text.slice(0, 300)})`];
  if (r.statusCode !== check.status) return fail(`expected status ${check.status}`);
  let body: { decision?: { identity?: string }; error?: { code?: string } };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    return fail('body is not JSON');
  }
  if (check.identity !== undefined && body.decision?.identity !== check.identity) return fail(`expected identity ${check.identity}`);
  if (check.code !== undefined && body.error?.code !== check.code) return fail(`expected error code ${check.code}`);
  return [];
}

/**
 * @example
 * const runs = await smokeLambda({ zip: 'dist/lambda.zip', nodes: [process.execPath, NODE22] });
 */
export async function smokeLambda(options: { zip: string; nodes: string[] }): Promise<SmokeRun[]> {
  await stat(options.zip);
  const parent = await mkdtemp(join(tmpdir(), 'lambda-smoke-'));
  const s3 = await startS3Server();
  try {
    const dir = await unpack(resolve(options.zip), parent);
    const staged = await stageRunnables(parent, options.nodes);
    const data = join(parent, 'data');
    await writeTinyModel(join(data, 'model'), { seed: 1 });
    await writeSyntheticGallery(join(data, 'gallery'), IDENTITIES, PER_IDENTITY);
    const prefix = freshPrefix(s3.bucket, 'smoke');
    Object.assign(process.env, s3.env);
    await uploadFolder(join(data, 'model'), `${prefix}/model`);
    await uploadFolder(join(data, 'gallery'), `${prefix}/gallery`);

    const png = async (identity: number, index: number): Promise<HttpEventOptions> => ({ query: 'k=1', body: new Uint8Array(await syntheticPng(identity * 1000 + index)), headers: { authorization: `Bearer ${READ_KEY}`, 'content-type': 'image/png' } });
    const http: (Invocation & { check: HttpCheck })[] = [
      { name: 'function URL GET /readyz', export: 'handler', event: functionUrlEvent('GET', '/readyz'), check: { status: 200 } },
      { name: 'function URL POST /v1/search', export: 'handler', event: functionUrlEvent('POST', '/v1/search', await png(1, 1)), check: { status: 200, identity: 'id001' } },
      { name: 'API Gateway REST POST /v1/search', export: 'handler', event: restApiEvent('POST', '/v1/search', await png(2, 0)), check: { status: 200, identity: 'id002' } },
      { name: 'ALB POST /v1/search', export: 'handler', event: albEvent('POST', '/v1/search', await png(0, 1)), check: { status: 200, identity: 'id000' } },
      { name: 'function URL without a key', export: 'handler', event: functionUrlEvent('POST', '/v1/search', { body: new Uint8Array(await syntheticPng(1)) }), check: { status: 401, code: 'UNAUTHORIZED' } },
    ];

    const runs: SmokeRun[] = [];
    for (const [i, node] of staged.nodes.entries()) {
      const scratch = join(parent, `scratch-${i}`);
      await mkdir(scratch);
      await chmod(scratch, 0o1777);
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: scratch,
        TMPDIR: scratch,
        LAMBDA_TASK_ROOT: dir,
        AWS_LAMBDA_FUNCTION_NAME: 'twinsearch-smoke',
        ...s3.env,
        MODEL_DIR: `${prefix}/model`,
        GALLERY_DIR: `${prefix}/gallery`,
        // Each Node version builds its own index, so the second run also starts from none.
        INDEX_DIR: `${prefix}/index-${i}`,
        API_KEYS: READ_KEY,
        ADMIN_KEYS: ADMIN_KEY,
        EMBED_WORKERS: '1',
        // info: the line naming the tfjs backend (wasm must start from the package, not fall back to cpu).
        LOG_LEVEL: 'info',
      };
      const reindex = await invoke(node, staged.invoker, dir, scratch, { ...env, AWS_LAMBDA_FUNCTION_NAME: 'twinsearch-reindex' }, [{ name: 'EventBridge schedule', export: 'scheduled', event: scheduledEvent() }]);
      const [scheduled] = reindex.results;
      const summary = (scheduled.result as { published?: boolean; summary?: { images?: number } } | undefined)?.summary;
      if (scheduled.error || summary?.images !== IDENTITIES * PER_IDENTITY) throw new Error(`${reindex.node}: scheduled re-index did not publish ${IDENTITIES * PER_IDENTITY} images: ${scheduled.error ?? JSON.stringify(scheduled.result)}`);

      const served = await invoke(node, staged.invoker, dir, scratch, env, http.map(({ check: _, ...inv }) => inv));
      const failures = served.results.flatMap((r, j) => (r.error ? [`${r.name}: threw ${r.error}`] : checkHttp(r.name, r.result, http[j].check)));
      const backend = served.logs.find((m) => m.includes('tfjs backend:'));
      if (!backend?.includes('tfjs backend: wasm')) failures.push(`the serving thread's tfjs backend is not wasm: ${backend ?? 'not logged'}`);
      if (failures.length) throw new Error(`${served.node}:\n  ${failures.join('\n  ')}`);
      runs.push({ node: served.node, reindexMs: reindex.importMs + scheduled.ms, importMs: served.importMs, firstRequestMs: served.results[0].ms, requestMs: served.results.slice(1).map((r) => r.ms) });
    }
    return runs;
  } finally {
    await s3.stop();
    await run('chmod', ['-R', 'u+w', parent]).catch(() => undefined);
    await rm(parent, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const program = new Command('smoke-lambda')
    .description('Unpack dist/lambda.zip read-only and invoke scheduled + handler with real event shapes against the S3 test server')
    .option('--zip <file>', 'the package', join(REPO, 'dist/lambda.zip'))
    .option('--node <binary...>', 'Node binaries to run it under (default: this Node, Node 22 and Node 24)')
    .action(async (flags: { zip: string; node?: string[] }) => {
      const started = performance.now();
      if (!flags.node) await ensureNode24Installed();
      const runs = await smokeLambda({ zip: flags.zip, nodes: flags.node ?? [process.execPath, NODE22, NODE24] });
      for (const r of runs) console.log(`Node ${r.node}: scheduled re-index ${r.reindexMs} ms; handler cold import ${r.importMs} ms, first request ${r.firstRequestMs} ms, then ${r.requestMs.join(' / ')} ms`);
      console.log(`lambda smoke passed in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    });
  await program.parseAsync(process.argv).catch((error: unknown) => {
    console.error(`smoke-lambda: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
