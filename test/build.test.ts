/**
 * The deployable build's rules: what the Lambda package may leave out, and which native files
 * Amazon Linux 2023 can load (read from the real addons installed here).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { importedPackages } from '../scripts/build/deps.js';
import { AMAZON_LINUX_2023, compareVersions, requiredVersions, scanNativeFiles, tooNew } from '../scripts/build/native.js';
import { isPrunable } from '../scripts/build/prune.js';

describe('native files against Amazon Linux 2023', () => {
  it('reads the newest symbol version per library from objdump -T output, comparing numerically', () => {
    const objdump = [
      '0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.2.5) free',
      '0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.9)  pipe2',
      '0000000000000000      DF *UND*	0000000000000000 (GLIBC_2.29) exp',
      '0000000000000000      DF *UND*	0000000000000000 (GLIBCXX_3.4.29) _ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEE10_M_replaceEmmPKcm',
      '0000000000000000      DF *UND*	0000000000000000 (CXXABI_1.3.9) _ZdlPvm',
    ].join('\n');
    expect(requiredVersions(objdump)).toEqual({ GLIBC: '2.29', GLIBCXX: '3.4.29', CXXABI: '1.3.9' });
    expect(compareVersions('2.9', '2.34')).toBe(-1);
    expect(tooNew({ GLIBC: '2.38', GLIBCXX: '3.4.29' }, AMAZON_LINUX_2023)).toEqual(['GLIBC_2.38 > 2.34']);
  });

  it("hnswlib-node's addon as compiled here loads on Amazon Linux 2023", async () => {
    const [addon] = await scanNativeFiles(join(import.meta.dirname, '../node_modules/hnswlib-node/build/Release'));
    expect(addon).toMatchObject({ file: 'addon.node', tooNew: [] });
    expect(compareVersions(addon.required.GLIBC ?? '0', '2.17')).toBeGreaterThanOrEqual(0);
  });
});

describe('what the Lambda package leaves out', () => {
  it.each([
    ['@tensorflow/tfjs/dist/tf.node.js.map', true],
    ['@tensorflow/tfjs/dist/tf.es2017.min.js', true],
    ['@tensorflow/tfjs-core/dist/tf-core.fesm.js', true],
    ['hono/dist/types/index.d.ts', true],
    ['hnswlib-node/build/Release/obj.target/addon.node', true],
    ['@vladmandic/face-api/model/age_gender_model.bin', true],
    ['@tensorflow/tfjs/dist/tf.node.js', false],
    ['@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm', false],
    ['@tensorflow/tfjs-core/dist/index.js', false],
    ['hnswlib-node/build/Release/addon.node', false],
    ['@vladmandic/face-api/model/face_recognition_model.bin', false],
    ['@vladmandic/face-api/model/face_landmark_68_model-weights_manifest.json', false],
    ['sharp/LICENSE', false],
  ])('%s: %s', (file, pruned) => {
    expect(isPrunable(file)).toBe(pruned);
  });
});

describe('Node versions', () => {
  it('no installed package declares an engine range that excludes Node 20.19, 22 or 24 (npm would warn EBADENGINE)', () => {
    const repo = join(import.meta.dirname, '..');
    const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } }> };
    const root = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { engines: { node: string } };
    const excluding = Object.entries(lock.packages)
      // Packages for other platforms (sharp's win32 builds, wasm fallbacks) are in the lock file but never installed here.
      .filter(([path, entry]) => path !== '' && entry.engines?.node && existsSync(join(repo, path, 'package.json')))
      .flatMap(([path, entry]) => ['20.19.0', '22.12.0', '24.0.0'].filter((v) => !semver.satisfies(v, entry.engines!.node!)).map((v) => `${path} (${entry.engines!.node}) excludes ${v}`));
    expect(excluding).toEqual([]);
    for (const v of ['20.19.0', '22.12.0', '24.0.0']) expect(semver.satisfies(v, root.engines.node)).toBe(true);
  });
});

describe('production dependencies', () => {
  it('are exactly what the deployed code imports (serving, the index job, the Node adapter)', async () => {
    const manifest = JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const imported = await importedPackages();
    // Listed to pin them to @tensorflow/tfjs's version (one tfjs in the tree); tfjs itself imports them.
    const pins = ['@tensorflow/tfjs-backend-cpu', '@tensorflow/tfjs-core'];
    // Loaded by path through createRequire (its Node build and its weight files: src/face/faceapi.ts), which no import graph shows.
    const requiredByPath = ['@vladmandic/face-api'];
    expect(imported.filter((p) => !(p in manifest.dependencies))).toEqual([]);
    expect(Object.keys(manifest.dependencies).filter((p) => !imported.includes(p) && !pins.includes(p) && !requiredByPath.includes(p))).toEqual([]);
    for (const p of requiredByPath) expect(readFileSync(join(import.meta.dirname, '../src/face/faceapi.ts'), 'utf8')).toContain(`'${p}'`);
  });
});
