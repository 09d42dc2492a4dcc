/**
 * Atomic file replacement: readers see either the old file or the complete new one, never a
 * partial write, and the new file survives a power loss once the call returns.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Flushes a directory entry to disk. Some platforms/filesystems cannot open or fsync a directory; that is not fatal. */
async function fsyncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await handle?.close();
  }
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory is written, fsynced and
 * renamed over `path`, then the directory is fsynced so the rename itself is durable.
 * The directory must exist. On failure the temp file is removed and `path` is untouched.
 *
 * @example
 * await writeFileAtomic('models/omniglot/model-card.json', JSON.stringify(card, null, 2));
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | ArrayBuffer): Promise<void> {
  const dir = dirname(path);
  // Same directory as the target: rename is only atomic within one filesystem.
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  const handle = await open(temp, 'wx');
  try {
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
  await fsyncDirectory(dir);
}
