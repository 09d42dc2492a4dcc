/**
 * fsync helpers for the files hnswlib writes itself and for folders after a rename, and a
 * durable append. Whole-file atomic writes use writeFileAtomic from src/util/atomic.ts.
 */
import { open, type FileHandle } from 'node:fs/promises';

/**
 * Flushes a file's data, or a folder's entries (so a rename or create inside it survives a crash).
 *
 * @example
 * await rename(tmp, final); await fsyncPath(dirname(final));
 */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Appends a line to a file and fsyncs it before returning. If the file ends in a torn line
 * (a crash mid-append: that write never returned, so nobody relied on it), the fragment is cut
 * off first, so the file stays a sequence of complete lines.
 *
 * @example
 * await appendLineDurable('gallery/.twinsearch/journal.jsonl', JSON.stringify(record));
 */
export async function appendLineDurable(path: string, line: string): Promise<{ created: boolean; repaired: boolean }> {
  if (line.includes('\n')) throw new RangeError('appendLineDurable: the line contains a newline');
  const handle = await open(path, 'a+');
  try {
    const { size } = await handle.stat();
    const end = await endOfLastCompleteLine(handle, size);
    if (end < size) await handle.truncate(end);
    await handle.write(`${line}\n`, end);
    await handle.sync();
    return { created: size === 0, repaired: end < size };
  } finally {
    await handle.close();
  }
}

/** Offset just after the last newline (0 if there is none). */
async function endOfLastCompleteLine(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const at = chunk.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (at >= 0) return start + at + 1;
    end = start;
  }
  return 0;
}
