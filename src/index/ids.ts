/**
 * Stable, content-addressed image ids: the same bytes enrolled for the same identity always get
 * the same id, whichever instance or run writes them, so replaying a write is harmless.
 */
import { createHash } from 'node:crypto';

/**
 * The id of one image of an identity: sha256 over the image's sha256, the identity and the face's
 * index in the image (0 until images hold several faces), as 64 hex digits.
 *
 * @example
 * imageId('alice', '3f1c…e9') // '9b2d…' (the same on every instance, in every run)
 */
export function imageId(identity: string, sha256: string, face = 0): string {
  return createHash('sha256').update(`${sha256}\0${identity}\0${face}`).digest('hex');
}
