/**
 * checksums.json: the sha256 and size of every other file of a snapshot, so a flipped byte, a
 * truncated copy or a half-written file is refused at open instead of serving wrong answers.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { IndexError } from './errors.js';

export const CHECKSUMS_FILE = 'checksums.json';

export const ChecksumsSchema = z.object({
  algorithm: z.literal('sha256'),
  files: z.record(z.string(), z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().int().nonnegative() })),
});
export type Checksums = z.infer<typeof ChecksumsSchema>;

/** sha256 (hex) of bytes in memory. */
export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * sha256 (hex) of a file, streamed (hnsw.bin of a million vectors is hundreds of MB).
 *
 * @example
 * await sha256File('index/v000001-20261128T180102Z/hnsw.bin') // '3f1c…'
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checksums of the named files inside `dir`. */
export async function computeChecksums(dir: string, names: readonly string[]): Promise<Checksums> {
  const files: Checksums['files'] = {};
  for (const name of [...names].sort()) {
    const path = join(dir, name);
    files[name] = { sha256: await sha256File(path), size: (await stat(path)).size };
  }
  return { algorithm: 'sha256', files };
}

/** Reads and validates `dir/checksums.json`. */
export async function readChecksums(dir: string): Promise<Checksums> {
  let text: string;
  try {
    text = await readFile(join(dir, CHECKSUMS_FILE), 'utf8');
  } catch (error) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${join(dir, CHECKSUMS_FILE)} cannot be read`, { cause: error });
  }
  try {
    return ChecksumsSchema.parse(JSON.parse(text));
  } catch (error) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${join(dir, CHECKSUMS_FILE)} is not a valid checksum list`, { cause: error });
  }
}

/**
 * Throws `CORRUPT_SNAPSHOT` unless `name`'s size and sha256 match the list. Pass `bytes` when the
 * file is already in memory to avoid reading it twice.
 *
 * @example
 * await verifyFile(dir, checksums, 'hnsw.bin');
 */
export async function verifyFile(dir: string, checksums: Checksums, name: string, bytes?: Uint8Array): Promise<void> {
  const expected = checksums.files[name];
  const path = join(dir, name);
  if (!expected) throw new IndexError('CORRUPT_SNAPSHOT', `${CHECKSUMS_FILE} in ${dir} has no entry for ${name}`);
  let size: number;
  try {
    size = bytes ? bytes.byteLength : (await stat(path)).size;
  } catch (error) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${path} is missing`, { cause: error });
  }
  if (size !== expected.size) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${path} has ${size} bytes, checksums.json says ${expected.size}`);
  }
  const actual = bytes ? sha256Bytes(bytes) : await sha256File(path);
  if (actual !== expected.sha256) {
    throw new IndexError('CORRUPT_SNAPSHOT', `${path} fails its sha256 check (expected ${expected.sha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`);
  }
}
