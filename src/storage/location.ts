/**
 * Where a folder of twinsearch data lives: a local path, or an `s3://bucket/prefix` URI in object
 * storage (AWS S3, Cloudflare R2, MinIO: anything that speaks the S3 API). MODEL_DIR, INDEX_DIR,
 * GALLERY_DIR, STORE_DIR and `--out` all take either.
 */

export interface ObjectLocation {
  bucket: string;
  /** The key prefix, empty or ending in `/`. */
  prefix: string;
}

const S3_URI = /^s3:\/\/([^/]+)(?:\/(.*))?$/;

/** True for an `s3://…` URI (whatever follows is checked by `parseObjectUri`). */
export function isObjectUri(location: string): boolean {
  return location.startsWith('s3://');
}

/**
 * Splits an `s3://bucket/prefix` URI; the prefix comes back empty or ending in `/`.
 *
 * @example
 * parseObjectUri('s3://twinsearch/index/faces') // { bucket: 'twinsearch', prefix: 'index/faces/' }
 */
export function parseObjectUri(uri: string): ObjectLocation {
  const m = S3_URI.exec(uri);
  if (!m || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(m[1])) throw new RangeError(`${JSON.stringify(uri)} is not an s3://bucket/prefix URI (bucket names are 3-63 lower-case letters, digits, dots and hyphens)`);
  const path = (m[2] ?? '').replace(/\/+$/, '');
  if (path.split('/').some((part) => part === '.' || part === '..')) throw new RangeError(`${JSON.stringify(uri)} has a "." or ".." segment`);
  return { bucket: m[1], prefix: path ? `${path}/` : '' };
}

/**
 * A URI below another (the gallery store inside the gallery, a model's files).
 *
 * @example
 * childUri('s3://twinsearch/gallery/', '.twinsearch') // 's3://twinsearch/gallery/.twinsearch'
 */
export function childUri(uri: string, ...parts: string[]): string {
  const { bucket, prefix } = parseObjectUri(uri);
  return `s3://${bucket}/${prefix}${parts.join('/')}`;
}
