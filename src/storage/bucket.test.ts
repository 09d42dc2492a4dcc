/**
 * The S3 calls against a real S3 API server: conditional writes as publishing and the journal
 * rely on them, missing objects as values, and objects of several MiB in both directions.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useS3 } from '../../test/fixtures/s3-env.js';
import { ObjectBucket } from './bucket.js';
import { parseObjectUri } from './location.js';

const s3 = useS3();
const bucket = () => new ObjectBucket(parseObjectUri(s3.prefix('bucket')));

describe('ObjectBucket', () => {
  it('creates only if absent, and replaces only the version it read (a stale ETag loses)', async () => {
    const b = bucket();
    const first = await b.put('CURRENT', 'one', { ifNoneMatch: '*' });
    expect(first).toEqual(expect.any(String));
    expect(await b.put('CURRENT', 'two', { ifNoneMatch: '*' })).toBeNull();
    const second = await b.put('CURRENT', 'two', { ifMatch: first! });
    expect(second).not.toBeNull();
    expect(await b.put('CURRENT', 'three', { ifMatch: first! })).toBeNull();
    expect(await b.get('CURRENT')).toMatchObject({ body: Buffer.from('two'), etag: second });
    expect(await b.get('CURRENT', { ifNoneMatch: second! })).toBe('not-modified');
  });

  it('answers a missing object with null, not an error', async () => {
    const b = bucket();
    expect(await b.get('nothing')).toBeNull();
    expect(await b.head('nothing')).toBeNull();
    expect(await b.download('nothing', join(s3.scratch, 'nothing'))).toBeNull();
    expect(await b.put('nothing', 'x', { ifMatch: '"0123"' })).toBeNull();
    await expect(b.delete('nothing')).resolves.toBeUndefined();
  });

  it('uploads and downloads an 8 MiB object in seconds (no stall waiting for a 100-continue the server never sends)', async () => {
    const b = bucket();
    const bytes = randomBytes(8 * 2 ** 20);
    const started = performance.now();
    await b.put('big', bytes);
    const file = join(s3.scratch, 'big');
    expect(await b.download('big', file)).toBe(bytes.byteLength);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect((await readFile(file)).equals(bytes)).toBe(true);
    expect((await b.list()).map((o) => [o.key, o.size])).toEqual([['big', bytes.byteLength]]);
  }, 30_000);
});
