import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT_LOCKED } from './index-program.js';
import { acquireLock } from '../index/lock.js';
import { readCurrent } from '../index/snapshot.js';
import { writeSyntheticGallery, writeTinyModel } from '../../test/fixtures/gallery.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
const tsx = join(repo, 'node_modules/.bin/tsx');

async function cli(script: 'index' | 'reindex', args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, [join(repo, `src/cli/${script}.ts`), ...args], { cwd: repo });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

let dir: string;
let args: string[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'index-cli-'));
  await writeTinyModel(join(dir, 'model'));
  await writeSyntheticGallery(join(dir, 'gallery'), 3, 2);
  args = ['--model', join(dir, 'model'), '--gallery', join(dir, 'gallery'), '--out', join(dir, 'index'), '--workers', '0', '--backend', 'wasm'];
});

describe('index and reindex commands', () => {
  it('print one summary line and exit 0; a held lock exits 75 with CURRENT untouched', async () => {
    const built = await cli('index', args);
    expect(built.code).toBe(0);
    const lines = built.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^v000001-\d{8}T\d{6}Z: full .*added 6, changed 0, removed 0, unchanged 0, embedded 6; 6 images of 3 identities in [\d.]+ s$/);

    const again = await cli('reindex', args);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toMatch(/^v000002-.*: incremental .*unchanged 6, embedded 0;/);

    const lock = await acquireLock(join(dir, 'index', '.lock'), { command: 'test holder' });
    try {
      const blocked = await cli('reindex', args);
      expect(blocked.code).toBe(EXIT_LOCKED);
      expect(blocked.stdout).toBe('');
      expect(blocked.stderr).toMatch(/error \[LOCKED\]: .*test holder/);
    } finally {
      await lock.release();
    }
    expect(await readCurrent(join(dir, 'index'))).toMatch(/^v000002-/);
  });

  it('fails with a clear message and exit 1 on a missing model', async () => {
    const bad = await cli('reindex', ['--model', join(dir, 'no-model'), ...args.slice(2)]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error \[MODEL_NOT_FOUND\]/);
  });
});
