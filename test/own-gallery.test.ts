/**
 * README's "Your own gallery", as a new user runs it: `npm start -- --gallery DIR --port P --preset faces`
 * on a folder of AT&T faces converted to JPEG, while the sample's server keeps serving beside it.
 * The sample's model is a tiny random one here (its training is `npm start`'s own, tested
 * elsewhere); the gallery's model is made for real by the faces preset.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetsDir } from '../src/data/datasets.js';
import { writeTinyModel } from './fixtures/gallery.js';

const repo = resolve(import.meta.dirname, '..');
const att = join(datasetsDir(), 'att-faces');
const PEOPLE = 8;
/** Photos 1..8 of each person are the gallery; 9 and 10 are the user's later photos. */
const GALLERY_PHOTOS = 8;

interface Started {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/** Runs `npm start`'s script in `home` and resolves once it says where it serves. */
function start(home: string, args: string[]): Promise<Started> {
  const child = spawn(join(repo, 'node_modules/.bin/tsx'), [join(repo, 'src/cli/start.ts'), ...args], {
    cwd: home,
    env: { ...process.env, TWINSEARCH_HOME: home, LOG_LEVEL: 'warn', EMBED_WORKERS: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`start ${args.join(' ')} did not serve within 6 min:\n${output}`)), 360_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /twinsearch API on (http:\/\/\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, url: m[1], output: () => output });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`start ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

async function stop(s: Started | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  const exited = new Promise((r) => s.child.once('exit', r));
  s.child.kill('SIGTERM');
  await exited;
}

const readyz = async (url: string) => (await fetch(`${url}/readyz`)).json() as Promise<{ status: string; model: { id: string }; index: { version: string | null } }>;

describe.skipIf(!existsSync(att))('your own gallery beside the sample (README)', () => {
  let home: string;
  let sample: Started | undefined;
  let own: Started | undefined;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'own-gallery-'));
    await copyFile(join(repo, 'wrangler.toml'), join(home, 'wrangler.toml'));
    await symlink(join(repo, 'functions'), join(home, 'functions'));
    await writeTinyModel(join(home, 'models', 'sample'), { name: 'sample' });
    for (let person = 1; person <= PEOPLE; person++) {
      await mkdir(join(home, 'faces', `s${person}`), { recursive: true });
      for (let photo = 1; photo <= GALLERY_PHOTOS; photo++) {
        await sharp(join(att, `s${person}`, `${photo}.png`)).jpeg({ quality: 90 }).toFile(join(home, 'faces', `s${person}`, `${photo}.jpg`));
      }
    }
    sample = await start(home, ['--port', '0']);
  }, 400_000);

  afterAll(async () => {
    await stop(own);
    await stop(sample);
    if (home) await rm(home, { recursive: true, force: true });
  });

  it('makes, indexes and serves the gallery with its own model and index, finds a person in a new photo, and leaves the sample serving and untouched', async () => {
    const before = await readyz(sample!.url);
    expect(before.status).toBe('ready');
    const sampleCurrent = await readFile(join(home, 'index', 'sample', 'CURRENT'), 'utf8');

    const t0 = performance.now();
    own = await start(home, ['--gallery', join(home, 'faces'), '--port', '0', '--preset', 'faces']);
    const seconds = (performance.now() - t0) / 1000;
    console.log(`npm start -- --gallery (${PEOPLE} AT&T people as JPEG): serving after ${seconds.toFixed(1)} s`);

    const mine = await readyz(own.url);
    expect(mine.status).toBe('ready');
    expect(mine.model.id).toMatch(/^faces-[0-9a-f]{12}$/);
    expect(await readdir(join(home, 'index', 'faces'))).toContain('CURRENT');
    expect(existsSync(join(home, 'models', 'faces', 'model-card.json'))).toBe(true);
    // A photo of s3 that is not in the gallery: found, at the server's own threshold.
    const query = await sharp(join(att, 's3', '10.png')).jpeg({ quality: 90 }).toBuffer();
    const res = await fetch(`${own.url}/v1/search?k=1`, { method: 'POST', body: new Uint8Array(query) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { decision: { identity: string; match: boolean }; face?: { box: unknown } };
    expect(body.decision).toMatchObject({ identity: 's3', match: true });
    expect(body.face?.box).toBeDefined();
    // Someone who is not in the gallery is unknown.
    const stranger = await sharp(join(att, 's40', '1.png')).jpeg({ quality: 90 }).toBuffer();
    const other = (await (await fetch(`${own.url}/v1/search?k=1`, { method: 'POST', body: new Uint8Array(stranger) })).json()) as { decision: { identity: string } };
    expect(other.decision.identity).toBe('unknown');

    // The sample: same index, same model, still ready.
    expect(await readFile(join(home, 'index', 'sample', 'CURRENT'), 'utf8')).toBe(sampleCurrent);
    const after = await readyz(sample!.url);
    expect(after).toMatchObject({ status: 'ready', model: { id: before.model.id }, index: { version: before.index.version } });
  }, 400_000);
});
