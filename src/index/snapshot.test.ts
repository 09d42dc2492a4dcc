import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readChecksums, sha256Bytes, verifyFile } from './checksums.js';
import { isIndexError } from './errors.js';
import { allocateVersion, listVersions, pruneSnapshots, readCurrent, switchCurrent, writeSnapshot } from './snapshot.js';

const files = (content: string) => ({
  async write(dir: string) {
    await writeFile(join(dir, 'a.bin'), content);
    await writeFile(join(dir, 'b.json'), '{}');
    return ['a.bin', 'b.json'];
  },
});

async function indexDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'snap-'));
}

describe('snapshots', () => {
  it('writes a complete snapshot with checksums and leaves CURRENT alone until switched', async () => {
    const dir = await indexDir();
    const version = await allocateVersion(dir, new Date('2026-11-28T18:00:00Z'));
    expect(version).toBe('v000001-20261128T180000Z');
    const path = await writeSnapshot(dir, version, files('hello'));
    expect((await readdir(path)).sort()).toEqual(['a.bin', 'b.json', 'checksums.json']);
    expect(await readdir(dir)).toEqual([version]); // no temp folder left
    const checksums = await readChecksums(path);
    expect(checksums.files['a.bin']).toEqual({ sha256: sha256Bytes(Buffer.from('hello')), size: 5 });
    expect(await readCurrent(dir)).toBeNull();
    await switchCurrent(dir, version);
    expect(await readCurrent(dir)).toBe(version);
    expect(await readFile(join(dir, 'CURRENT'), 'utf8')).toBe(`${version}\n`);
  });

  it('detects a flipped byte and a truncated file', async () => {
    const dir = await indexDir();
    const path = await writeSnapshot(dir, 'v000001-20261128T180000Z', files('hello'));
    const checksums = await readChecksums(path);
    await verifyFile(path, checksums, 'a.bin');
    await writeFile(join(path, 'a.bin'), 'hellp');
    await expect(verifyFile(path, checksums, 'a.bin')).rejects.toThrow(/sha256/);
    await writeFile(join(path, 'a.bin'), 'hell');
    await expect(verifyFile(path, checksums, 'a.bin')).rejects.toThrow(/4 bytes/);
  });

  it('cleans up after a failed write and never overwrites a snapshot', async () => {
    const dir = await indexDir();
    const failing = { write: async () => Promise.reject(new Error('disk full')) };
    await expect(writeSnapshot(dir, 'v000001-20261128T180000Z', failing)).rejects.toThrow('disk full');
    expect(await readdir(dir)).toEqual([]);
    await writeSnapshot(dir, 'v000001-20261128T180000Z', files('x'));
    const err = await writeSnapshot(dir, 'v000001-20261128T180000Z', files('y')).catch((e: unknown) => e);
    expect(isIndexError(err)).toBe(true);
  });

  it('refuses to point CURRENT at a missing snapshot, and reports a garbled CURRENT', async () => {
    const dir = await indexDir();
    await expect(switchCurrent(dir, 'v000009-20261128T180000Z')).rejects.toThrow(/no such snapshot/);
    await writeFile(join(dir, 'CURRENT'), '../../etc\n');
    await expect(readCurrent(dir)).rejects.toThrow(/does not name a snapshot/);
  });

  it('keeps the newest N and the current snapshot, and removes dead temp folders', async () => {
    const dir = await indexDir();
    const names: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const v = await allocateVersion(dir, new Date(`2026-11-2${i}T00:00:00Z`));
      await writeSnapshot(dir, v, files(String(i)));
      names.push(v);
    }
    await switchCurrent(dir, names[0]); // e.g. rolled back to the oldest
    await mkdir(join(dir, '.tmp-v000006-20261128T000000Z-99999'));
    await writeFile(join(dir, '.CURRENT.99999.abcdef.tmp'), 'v0000');
    const result = await pruneSnapshots(dir, 2);
    expect(result.removed).toEqual([names[1], names[2]]);
    expect(result.cleaned.sort()).toEqual(['.CURRENT.99999.abcdef.tmp', '.tmp-v000006-20261128T000000Z-99999']);
    expect(await listVersions(dir)).toEqual([names[0], names[3], names[4]]);
    expect(await allocateVersion(dir, new Date('2026-11-28T00:00:00Z'))).toMatch(/^v000006-/);
  });
});
