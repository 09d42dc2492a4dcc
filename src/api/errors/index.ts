/**
 * Every error the API returns is JSON `{ "error": { "code", "message" } }` with a stable code
 * and the HTTP status it implies. Errors from the layers below (image decoding, the index) are
 * mapped here, in one place; anything unexpected becomes a 500 without internals in the message.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ImageDecodeError } from '../../data/preprocess.js';
import { IndexError } from '../../index/errors.js';

/** Stable error codes and their HTTP status. */
export const ERROR_STATUS = {
  /** A parameter is missing, out of range or of the wrong type. */
  INVALID_PARAMETER: 400,
  /** The body is not valid JSON / multipart, or has the wrong shape. */
  INVALID_BODY: 400,
  /** A base64 string is not valid base64. */
  INVALID_BASE64: 400,
  /** No image in the request. */
  MISSING_IMAGE: 400,
  /** More images than allowed in one request. */
  TOO_MANY_IMAGES: 400,
  /** Identity name empty, too long, with control characters or `.`/`..` segments. */
  INVALID_IDENTITY: 400,
  /** No or invalid Bearer key. */
  UNAUTHORIZED: 401,
  /** A valid key without the right (admin) permission. */
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  UNKNOWN_IDENTITY: 404,
  IMAGE_NOT_FOUND: 404,
  /** Body or image larger than the byte limit (counted on the bytes read). */
  PAYLOAD_TOO_LARGE: 413,
  /** More decoded pixels than the limit. */
  IMAGE_TOO_LARGE: 413,
  /** Not an accepted format (by its bytes): SVG, HEIC, text, anything but JPEG/PNG/WebP/GIF/TIFF/AVIF. */
  UNSUPPORTED_IMAGE: 415,
  /** An accepted format that does not decode (truncated, corrupt, empty). */
  UNDECODABLE_IMAGE: 415,
  /** A valid image that cannot be used (too small). */
  IMAGE_TOO_SMALL: 422,
  /** Face models: no face was found in the image. */
  NO_FACE: 422,
  /** Face models: an image to enrol holds several faces and the request did not say which (`face=<index>`). */
  MULTIPLE_FACES: 422,
  /** Model or index not loaded yet (or not verified). */
  NOT_READY: 503,
  INTERNAL: 500,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ApiErrorCode = keyof typeof ERROR_STATUS;

export interface ErrorBody {
  error: { code: ApiErrorCode; message: string };
}

/**
 * @example
 * throw new ApiError('INVALID_PARAMETER', 'k must be between 1 and 100');
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.status = ERROR_STATUS[code];
    this.headers = options?.headers;
  }
  readonly headers?: Record<string, string>;
}

/**
 * Maps any thrown value to an `ApiError` (pure).
 *
 * @example
 * toApiError(new ImageDecodeError('CORRUPT_IMAGE', 'truncated')).status // 415
 */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof ImageDecodeError) {
    switch (error.code) {
      case 'UNSUPPORTED_IMAGE':
        return new ApiError('UNSUPPORTED_IMAGE', 'the image format is not accepted: send JPEG, PNG, WebP, GIF, TIFF or AVIF', { cause: error });
      case 'IMAGE_TOO_LARGE':
        return new ApiError('IMAGE_TOO_LARGE', error.message.replace(/^an image of \d+ bytes/, 'the image'), { cause: error });
      case 'EMPTY_IMAGE':
        return new ApiError('UNDECODABLE_IMAGE', 'the image is empty', { cause: error });
      default:
        return new ApiError('UNDECODABLE_IMAGE', 'the image is corrupt or truncated and cannot be decoded', { cause: error });
    }
  }
  if (error instanceof IndexError) {
    if (error.code === 'BAD_ARGUMENT') return new ApiError('INVALID_PARAMETER', error.message, { cause: error });
    if (error.code === 'NO_CURRENT' || error.code === 'NO_SNAPSHOT') return new ApiError('NOT_READY', 'no index is loaded', { cause: error });
  }
  return new ApiError('INTERNAL', 'internal error', { cause: error });
}

/**
 * The JSON error response for `error` (with `WWW-Authenticate` on 401).
 *
 * @example
 * app.onError((err, c) => errorResponse(c, err));
 */
export function errorResponse(c: Context, error: unknown): Response {
  const e = toApiError(error);
  const body: ErrorBody = { error: { code: e.code, message: e.message } };
  return c.json(body, e.status, e.headers);
}
