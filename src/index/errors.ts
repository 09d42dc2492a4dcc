/**
 * One error type for everything the index refuses to do, with a stable `code` that the CLI
 * prints and the API maps to responses.
 */

export type IndexErrorCode =
  /** index/CURRENT is missing: nothing has been built yet. */
  | 'NO_CURRENT'
  /** A requested or referenced snapshot folder does not exist. */
  | 'NO_SNAPSHOT'
  /** A snapshot file is missing, has the wrong size or its sha256 does not match checksums.json. */
  | 'CORRUPT_SNAPSHOT'
  /** manifest.json does not parse or fails its schema. */
  | 'BAD_MANIFEST'
  /** The snapshot was built for another dimension, metric or model than the caller expects. */
  | 'MISMATCH'
  /** The index folder holds another model's snapshots; replacing them needs an explicit choice. */
  | 'OTHER_MODEL'
  /** Another run holds index/.lock. */
  | 'LOCKED'
  /** Other publishers kept moving CURRENT (object storage) while this run built its snapshot. */
  | 'CONFLICT'
  /** The gallery (folder + store) is empty or unreadable. */
  | 'EMPTY_GALLERY'
  /** An image could not be read or embedded. */
  | 'EMBED_FAILED'
  /** The gallery store's journal or blobs are unusable. */
  | 'STORE'
  /** A caller passed an invalid argument (wrong vector length, bad k, unknown identity name). */
  | 'BAD_ARGUMENT'
  /** The engine holding the vectors (Postgres) cannot be reached, or timed out. */
  | 'UNAVAILABLE'
  /** The engine refused to set up the store (no pgvector, no permission to create its schema). */
  | 'SETUP';

/**
 * @example
 * throw new IndexError('MISMATCH', 'snapshot v000003 has dimension 128, the model 64');
 */
export class IndexError extends Error {
  override readonly name = 'IndexError';
  /** For `MISMATCH`: the model the snapshot was built with, when that is what differs. */
  readonly builtWith?: string;
  constructor(
    readonly code: IndexErrorCode,
    message: string,
    options?: { cause?: unknown; builtWith?: string },
  ) {
    super(message, options);
    if (options?.builtWith !== undefined) this.builtWith = options.builtWith;
  }
}

/** True for an `IndexError`, optionally of one code. */
export function isIndexError(error: unknown, code?: IndexErrorCode): error is IndexError {
  return error instanceof IndexError && (code === undefined || error.code === code);
}
