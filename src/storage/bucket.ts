/**
 * The S3 calls twinsearch makes, in one place: get (optionally only if changed), download to a
 * file, put (optionally conditional), head, list, delete. Everything else in src/storage builds on
 * these; nothing outside src/storage talks to the SDK.
 *
 * The client comes from the AWS SDK's own configuration: endpoint from AWS_ENDPOINT_URL_S3 /
 * AWS_ENDPOINT_URL, credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the default
 * chain (instance roles, SSO, …), region from AWS_REGION. The one addition is S3_FORCE_PATH_STYLE,
 * which MinIO and local S3 servers need.
 *
 * Outcomes the callers act on come back as values (`null` for a missing object or a failed
 * condition, `'not-modified'`); other failures throw `IndexError('UNAVAILABLE')` after the SDK's
 * own retries.
 */
import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { IndexError } from '../index/errors.js';
import type { ObjectLocation } from './location.js';

export interface ObjectInfo {
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface PutCondition {
  /** Write only if the object's ETag is this one (compare-and-swap). */
  ifMatch?: string;
  /** `*`: write only if no object has this key (create-if-absent). */
  ifNoneMatch?: '*';
}

let shared: S3Client | undefined;

/**
 * The process's S3 client (one connection pool), configured from the environment as described above.
 *
 * @example
 * // AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000 S3_FORCE_PATH_STYLE=true AWS_REGION=us-east-1 …
 * const client = s3Client();
 */
export function s3Client(env: Readonly<Record<string, string | undefined>> = process.env): S3Client {
  shared ??= new S3Client({
    forcePathStyle: env.S3_FORCE_PATH_STYLE === 'true',
    // A connection that does not open in 5 s, or a response idle for 60 s, fails (and is retried by the SDK).
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
    // No `Expect: 100-continue` on large PUTs: files are uploaded only after a HEAD found them
    // missing, so waiting for the server's go-ahead never saves a body; and a server that never
    // sends one (miniflare's local R2) would stall every PUT over 2 MB for the whole request timeout.
    expectContinueHeader: false,
  });
  return shared;
}

const status = (error: unknown): number | undefined => (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

/** A failed condition: 412, or 409 when S3 saw a concurrent conditional write to the same key. */
function conditionFailed(error: unknown): boolean {
  const code = status(error);
  return code === 412 || (code === 409 && (error as Error).name === 'ConditionalRequestConflict');
}

const notFound = (error: unknown): boolean => status(error) === 404 || (error as Error).name === 'NoSuchKey' || (error as Error).name === 'NotFound';

/**
 * One bucket (and a key prefix) of object storage.
 *
 * @example
 * const bucket = new ObjectBucket({ bucket: 'twinsearch', prefix: 'index/faces/' });
 * const current = await bucket.get('CURRENT'); // { body, etag } or null
 */
export class ObjectBucket {
  constructor(
    readonly location: ObjectLocation,
    private readonly client: S3Client = s3Client(),
  ) {}

  /** The full key of `name` under the prefix. */
  key(name: string): string {
    return `${this.location.prefix}${name}`;
  }

  /** `s3://bucket/prefix/name`, for messages. */
  uri(name = ''): string {
    return `s3://${this.location.bucket}/${this.key(name)}`;
  }

  private fail(op: string, name: string, error: unknown): never {
    const code = status(error);
    const what = error instanceof S3ServiceException ? `${error.name}${code ? ` (HTTP ${code})` : ''}` : (error as Error).message;
    throw new IndexError('UNAVAILABLE', `object storage: ${op} ${this.uri(name)} failed: ${what}`, { cause: error });
  }

  /**
   * The object's bytes and ETag; null if there is none; `'not-modified'` if its ETag is still `ifNoneMatch`.
   *
   * @example
   * const r = await bucket.get('CURRENT', { ifNoneMatch: etag }); // 'not-modified' while CURRENT stays
   */
  async get(name: string, options: { ifNoneMatch?: string } = {}): Promise<{ body: Buffer; etag: string } | null | 'not-modified'> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(name), IfNoneMatch: options.ifNoneMatch }));
      return { body: Buffer.from(await (out.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()), etag: out.ETag ?? '' };
    } catch (error) {
      if (status(error) === 304) return 'not-modified';
      if (notFound(error)) return null;
      return this.fail('GET', name, error);
    }
  }

  /**
   * Streams an object into `file` (created or replaced); resolves its size, or null if there is no such object.
   *
   * @example
   * await bucket.download('files/3f1c…', '/tmp/twinsearch/cache/.3f1c….part');
   */
  async download(name: string, file: string): Promise<number | null> {
    let out;
    try {
      out = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: this.key(name) }));
    } catch (error) {
      if (notFound(error)) return null;
      return this.fail('GET', name, error);
    }
    try {
      const sink = createWriteStream(file);
      let size = 0;
      const body = out.Body as Readable;
      body.on('data', (chunk: Buffer) => {
        size += chunk.length;
      });
      await pipeline(body, sink);
      return size;
    } catch (error) {
      return this.fail('GET (body)', name, error);
    }
  }

  /**
   * Writes an object; with a condition, resolves null when the condition failed (someone else wrote first).
   *
   * @example
   * const etag = await bucket.put('CURRENT', json, { ifMatch: previousEtag }); // null: another publisher won
   */
  async put(name: string, body: Uint8Array | string, condition: PutCondition = {}): Promise<string | null> {
    try {
      const out = await this.client.send(
        new PutObjectCommand({ Bucket: this.location.bucket, Key: this.key(name), Body: body, IfMatch: condition.ifMatch, IfNoneMatch: condition.ifNoneMatch }),
      );
      return out.ETag ?? '';
    } catch (error) {
      if ((condition.ifMatch || condition.ifNoneMatch) && conditionFailed(error)) return null;
      // If-Match on an object that is gone fails as 404 on some servers.
      if (condition.ifMatch && notFound(error)) return null;
      return this.fail('PUT', name, error);
    }
  }

  /** Size, ETag and time of an object, or null if there is none. */
  async head(name: string): Promise<ObjectInfo | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: this.key(name) }));
      return { key: name, size: out.ContentLength ?? 0, etag: out.ETag ?? '', lastModified: out.LastModified ?? new Date(0) };
    } catch (error) {
      if (notFound(error)) return null;
      return this.fail('HEAD', name, error);
    }
  }

  /**
   * Objects under `under` (relative to the prefix), in key order, after `startAfter` if given.
   * Keys come back relative to the prefix.
   *
   * @example
   * for (const o of await bucket.list('journal/', { startAfter: 'journal/000000000041' })) …
   */
  async list(under = '', options: { startAfter?: string } = {}): Promise<ObjectInfo[]> {
    const found: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      let out;
      try {
        out = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.location.bucket,
            Prefix: this.key(under),
            StartAfter: options.startAfter === undefined ? undefined : this.key(options.startAfter),
            ContinuationToken: token,
          }),
        );
      } catch (error) {
        return this.fail('LIST', under, error);
      }
      for (const o of out.Contents ?? []) {
        if (!o.Key) continue;
        found.push({ key: o.Key.slice(this.location.prefix.length), size: o.Size ?? 0, etag: o.ETag ?? '', lastModified: o.LastModified ?? new Date(0) });
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return found;
  }

  /** Deletes an object (no error if it is already gone). */
  async delete(name: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key: this.key(name) }));
    } catch (error) {
      if (!notFound(error)) this.fail('DELETE', name, error);
    }
  }
}
