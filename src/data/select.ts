/** Picking a subset of a gallery's identities by name, for protocols such as "train on s1-s30". */
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
