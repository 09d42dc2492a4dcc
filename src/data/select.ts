/**
 * Picking a subset of a gallery's identities by name, for protocols such as "train on s1-s30", and
 * the images of some identities out of a loaded set.
 */
import type { Gallery } from './gallery.js';

export interface IdentitySelection {
  /** Keep only identities whose name matches. */
  include?: RegExp;
  /** Then drop identities whose name matches. */
  exclude?: RegExp;
}

/**
 * @example
 * selectIdentities(gallery, { include: /^s([1-9]|[12]\d|30)$/ }); // AT&T faces s1..s30
 */
export function selectIdentities(gallery: Gallery, selection: IdentitySelection): Gallery {
  if (!selection.include && !selection.exclude) return gallery;
  const identities = gallery.identities.filter(
    (id) => (!selection.include || selection.include.test(id.name)) && !(selection.exclude && selection.exclude.test(id.name)),
  );
  return { ...gallery, identities };
}

/**
 * Indices of the images whose label is one of `identities`, in set order.
 *
 * @example
 * imagesOfIdentities(new Int32Array([0, 0, 1, 2, 1, 2]), [0, 2]); // [0, 1, 3, 5]
 */
export function imagesOfIdentities(labels: Int32Array, identities: Iterable<number>): number[] {
  const wanted = new Set(identities);
  const picked: number[] = [];
  for (let i = 0; i < labels.length; i++) if (wanted.has(labels[i]!)) picked.push(i);
  return picked;
}

/**
 * The images at `indices` of `data` (images of `imageSize` floats, back to back), copied back to back.
 *
 * @throws RangeError for an index outside `data`
 * @example
 * const pixels = gatherImages(set.data, 28 * 28, [4, 0]); // image 4, then image 0
 */
export function gatherImages(data: Float32Array, imageSize: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * imageSize);
  for (let k = 0; k < indices.length; k++) {
    const at = indices[k]!;
    if (!Number.isInteger(at) || at < 0 || (at + 1) * imageSize > data.length) throw new RangeError(`image index ${at} is outside the ${data.length / imageSize} images`);
    out.set(data.subarray(at * imageSize, (at + 1) * imageSize), k * imageSize);
  }
  return out;
}
