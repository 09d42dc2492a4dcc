/**
 * Images that cannot be used, and how they are reported: one stable code and a reason per file, in
 * lists that name every file up to a cap. Training (gallery.ts) and indexing (src/index/reindex.ts)
 * word them alike, so a user who met one knows the other.
 *
 *   3/broken.png: UNSUPPORTED_IMAGE, not an image format we can decode (JPEG, PNG, WebP, GIF, TIFF, AVIF are)
 *   7/huge.png: IMAGE_TOO_LARGE, 8000x6000 pixels, more than the limit of 40000000 (raise it with --max-input-pixels 48000000)
 */
import { ImageDecodeError, type ImageDecodeErrorCode } from './preprocess.js';

/** Why an image cannot be used: a decode error's code, or `UNREADABLE_FILE` when the file itself cannot be read. */
export type ImageFailureCode = ImageDecodeErrorCode | 'UNREADABLE_FILE';

export interface ImageFailure {
  /** The file as the list shows it (an absolute path, or one relative to the gallery). */
  file: string;
  code: ImageFailureCode;
  /** What is wrong, without the file's name ("empty (0 bytes)"). */
  reason: string;
  /** IMAGE_TOO_LARGE: the size its header declares. */
  width?: number;
  height?: number;
}

/** How many files a list names before it says "… and N more". */
export const MAX_LISTED = 20;

/**
 * The failure a decode or read error means, or null for any other error (a bug, which callers rethrow
 * rather than blame on the image).
 *
 * @example
 * imageFailure('g/a/1.png', new ImageDecodeError('EMPTY_IMAGE', 'g/a/1.png is empty', { reason: 'empty' }));
 * // { file: 'g/a/1.png', code: 'EMPTY_IMAGE', reason: 'empty' }
 */
export function imageFailure(file: string, error: unknown): ImageFailure | null {
  if (error instanceof ImageDecodeError) {
    const size = error.width !== undefined && error.height !== undefined ? { width: error.width, height: error.height } : {};
    return { file, code: error.code, reason: error.reason, ...size };
  }
  const errno = error as NodeJS.ErrnoException;
  if (error instanceof Error && typeof errno.code === 'string' && typeof errno.syscall === 'string') {
    // "ENOENT: no such file or directory, open '/x'" → "ENOENT: no such file or directory": the list names the file.
    return { file, code: 'UNREADABLE_FILE', reason: `cannot be read (${errno.message.split(', ')[0]})` };
  }
  return null;
}

/**
 * "a, b, c and 2 more": at most `max` names.
 *
 * @example
 * nameList(['a', 'b', 'c'], 2); // 'a, b and 1 more'
 */
export function nameList(names: readonly string[], max = MAX_LISTED): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown} and ${names.length - max} more` : shown;
}

/**
 * One indented line per failure (at most `max`, then "… and N more"). `limitFlag` names the
 * command-line flag that raises the pixel limit, with the value this image needs.
 *
 * @example
 * failureLines([{ file: '7/huge.png', code: 'IMAGE_TOO_LARGE', reason: '8000x6000 pixels, …', width: 8000, height: 6000 }], { limitFlag: '--max-input-pixels' });
 * // ['  7/huge.png: IMAGE_TOO_LARGE, 8000x6000 pixels, … (raise it with --max-input-pixels 48000000)']
 */
export function failureLines(
  failures: readonly (Omit<ImageFailure, 'code'> & { code?: ImageFailureCode })[],
  options: { limitFlag?: string; max?: number } = {},
): string[] {
  const max = options.max ?? MAX_LISTED;
  const lines = failures.slice(0, max).map((f) => {
    const hint = f.code === 'IMAGE_TOO_LARGE' && options.limitFlag && f.width && f.height ? ` (raise it with ${options.limitFlag} ${f.width * f.height})` : '';
    return `  ${f.file}: ${f.code ? `${f.code}, ` : ''}${f.reason}${hint}`;
  });
  if (failures.length > max) lines.push(`  … and ${failures.length - max} more`);
  return lines;
}
