import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT_LOCKED } from './index-program.js';
import { acquireLock } from '../index/lock.js';
import { readCurrent } from '../index/snapshot.js';
import { writeSyntheticGallery, writeTinyModel } from '../../test/fixtures/gallery.js';
import { pngHeaderBomb } from '../../scripts/hostile/images.js';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
const tsx = join(repo, 'node_modules/.bin/tsx');

async function cli(script: 'index' | 'reindex', args: string[], cwd = repo): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tsx, [join(repo, `src/cli/${script}.ts`), ...args], { cwd });
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
    expect(lines[0]).toMatch(/^v000001-\d{8}T\d{6}Z: 6 images of 3 identities, indexed in [\d.]+ s\. Since the previous snapshot: 6 new, 0 changed, 0 removed, 0 unchanged; 6 embedded\. New graph: .*\.$/);

    const again = await cli('reindex', args);
    expect(again.code).toBe(0);
    expect(again.stdout.trim()).toMatch(/^v000002-.*: 6 images .* 6 unchanged; 0 embedded\. Graph updated: 0 to add, 0 to delete\.$/);

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
    expect(bad.stderr).toMatch(/error \[MODEL_NOT_FOUND\]: no trained model in .*no-model: train one first \(npm run train -- --data <gallery> --out .*no-model\)/);
    expect(bad.stderr).not.toMatch(/ENOENT/);
  });

  it("counts unreadable images in words, and refuses another model's index folder unless --force", async () => {
    const gallery = join(dir, 'gallery-bad');
    await writeSyntheticGallery(gallery, 2, 2);
    await writeFile(join(gallery, 'id000', 'broken.png'), 'not a png');
    const own = ['--gallery', gallery, '--out', join(dir, 'index-own'), '--workers', '0', '--backend', 'wasm'];
    const built = await cli('index', ['--model', join(dir, 'model'), ...own]);
    expect(built.code).toBe(0);
    expect(built.stdout).toMatch(/4 images of 2 identities.* 5 new, .*; 4 embedded, 1 unreadable and left out \(see the warnings above\)\./);

    await writeTinyModel(join(dir, 'other'), { seed: 9, name: 'other' });
    const refused = await cli('index', ['--model', join(dir, 'other'), ...own]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/error \[OTHER_MODEL\]: .*index-own holds the index of model tiny-random-[0-9a-f]{12} .*--out index\/other.*--force/);
    const current = await readCurrent(join(dir, 'index-own'));
    const forced = await cli('index', ['--model', join(dir, 'other'), ...own, '--force']);
    expect(forced.code).toBe(0);
    expect(await readCurrent(join(dir, 'index-own'))).not.toBe(current);
  });

  it('names the images it cannot use up to 20, with their reasons, and the files that are not images in one line', async () => {
    const gallery = join(dir, 'gallery-many-bad');
    await writeSyntheticGallery(gallery, 2, 2);
    for (let i = 0; i < 22; i++) await writeFile(join(gallery, 'id000', `bad${String(i).padStart(2, '0')}.png`), 'not a png');
    await writeFile(join(gallery, 'id001', 'notes.txt'), 'notes');
    await writeFile(join(gallery, 'id001', 'Thumbs.db'), 'thumbs');
    const built = await cli('index', ['--model', join(dir, 'model'), '--gallery', gallery, '--out', join(dir, 'index-many-bad'), '--workers', '0', '--backend', 'wasm', '--max-input-pixels', '50000000']);
    expect(built.code).toBe(0);
    expect(built.stdout).toMatch(/4 images of 2 identities.* 26 new, .*; 4 embedded, 22 unreadable and left out \(see the warnings above\)\./);
    const lines = built.stderr.split('\n');
    expect(lines.filter((l) => l.includes('not images'))).toEqual([
      'warning: 2 files are not images and were left out: id001/Thumbs.db, id001/notes.txt (images are .jpg, .jpeg, .png, .webp, .gif, .tif, .tiff, .avif)',
    ]);
    expect(lines).toContain('warning: 22 images cannot be used and were left out (they are tried again on the next run):');
    for (let i = 0; i < 20; i++) {
      const line = lines.find((l) => l.startsWith(`  id000/bad${String(i).padStart(2, '0')}.png: `));
      expect(line, `bad${i}`).toMatch(/not an image format we can decode/);
    }
    expect(built.stderr).not.toContain('bad20.png');
    expect(lines).toContain('  … and 2 more');
  });

  it('names the code of each image it cannot use, and --max-input-pixels reaches the decoder', async () => {
    const gallery = join(dir, 'gallery-bomb');
    await writeSyntheticGallery(gallery, 2, 2);
    await writeFile(join(gallery, 'id000', 'huge.png'), pngHeaderBomb(8000, 6000));
    await writeFile(join(gallery, 'id001', 'empty.png'), new Uint8Array(0));
    const own = ['--model', join(dir, 'model'), '--gallery', gallery, '--workers', '0', '--backend', 'wasm'];
    const atDefault = await cli('index', [...own, '--out', join(dir, 'index-bomb')]);
    expect(atDefault.code).toBe(0);
    expect(atDefault.stderr).toContain('\n  id000/huge.png: IMAGE_TOO_LARGE, 8000x6000 pixels, more than the limit of 40000000 (raise it with --max-input-pixels 48000000)\n');
    expect(atDefault.stderr).toContain('\n  id001/empty.png: EMPTY_IMAGE, empty (0 bytes)\n');
    // With the limit raised the image is decoded, and found to lack the pixels its header promises.
    const raised = await cli('index', [...own, '--out', join(dir, 'index-bomb-raised'), '--max-input-pixels', '48000000']);
    expect(raised.stderr).toContain('\n  id000/huge.png: CORRUPT_IMAGE, corrupt or truncated (');
  });

  it('writes to index/<model folder name> by default, the folder the server reads for that model', async () => {
    const home = await mkdtemp(join(tmpdir(), 'index-home-'));
    await writeTinyModel(join(home, 'models', 'digits'));
    const { code } = await cli('index', ['--model', join(home, 'models', 'digits'), '--gallery', join(dir, 'gallery'), '--workers', '0', '--backend', 'wasm'], home);
    expect(code).toBe(0);
    expect(await readCurrent(join(home, 'index', 'digits'))).toMatch(/^v000001-/);
  });
});
