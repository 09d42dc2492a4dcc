import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFiles } from './hash-cache.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('hashFiles', () => {
  it('hashes, caches, prunes the cache to the files given, or keeps others on request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hash-'));
    const cachePath = join(dir, 'cache.json');
    for (const name of ['a', 'b', 'c']) await writeFile(join(dir, name), name);
    const files = ['a', 'b', 'c'].map((key) => ({ key, path: join(dir, key) }));
    const first = await hashFiles(files, { cachePath });
    expect(first.stats).toEqual({ hashed: 3, cached: 0 });
    expect(first.hashes.get('b')).toEqual({ sha256: sha('b'), size: 1 });
    expect((await hashFiles(files, { cachePath })).stats).toEqual({ hashed: 0, cached: 3 });

    await hashFiles(files.slice(0, 1), { cachePath, keepOtherEntries: true });
    expect(Object.keys(JSON.parse(await readFile(cachePath, 'utf8')).files).sort()).toEqual(['a', 'b', 'c']);
    await hashFiles(files.slice(0, 1), { cachePath });
    expect(Object.keys(JSON.parse(await readFile(cachePath, 'utf8')).files)).toEqual(['a']);
  });

  it('leaves out a file that vanished, with a warning, and survives a corrupt cache', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hash-'));
    const cachePath = join(dir, 'cache.json');
    await writeFile(join(dir, 'a'), 'a');
    await writeFile(cachePath, '{ not json');
    const warnings: string[] = [];
    await rm(join(dir, 'gone'), { force: true });
    const { hashes } = await hashFiles(
      [{ key: 'a', path: join(dir, 'a') }, { key: 'gone', path: join(dir, 'gone') }],
      { cachePath, onWarning: (m) => warnings.push(m) },
    );
    expect([...hashes.keys()]).toEqual(['a']);
    expect(warnings.join('\n')).toMatch(/unreadable[\s\S]*disappeared/);
  });
});
