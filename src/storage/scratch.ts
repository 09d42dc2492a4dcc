/**
 * The instance's scratch space: where files from object storage are cached and snapshots are
 * opened. On AWS Lambda the only writable folder is /tmp, which is what `os.tmpdir()` gives
 * there (TMPDIR moves it elsewhere).
 */
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A folder under the scratch space.
 *
 * @example
 * scratchPath('cache') // '/tmp/twinsearch/cache'
 */
export function scratchPath(...parts: string[]): string {
  return join(tmpdir(), 'twinsearch', ...parts);
}

/** A folder name no other process or call uses (`<pid>-<random>`). */
export function uniqueName(): string {
  return `${process.pid}-${randomBytes(4).toString('hex')}`;
}
