/**
 * Snapshot version names: `v<6-digit sequence>-<UTC time>`, e.g. `v000042-20261128T180102Z`.
 * The zero-padded sequence makes plain string order equal creation order, and the time makes
 * a folder listing readable.
 */

const VERSION_RE = /^v(\d{6,})-(\d{8}T\d{6}Z)$/;

/** True if `name` is a snapshot folder name (temp folders and files are not). */
export function isVersionName(name: string): boolean {
  return VERSION_RE.test(name);
}

/** The sequence number of a version name. */
export function versionSequence(name: string): number {
  const m = VERSION_RE.exec(name);
  if (!m) throw new RangeError(`"${name}" is not a snapshot version name`);
  return Number(m[1]);
}

/** `2026-11-28T18:01:02.345Z` → `20261128T180102Z`. */
export function compactUtc(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/**
 * The next version name after the existing ones (sequence = highest + 1).
 *
 * @example
 * nextVersionName(['v000001-20261128T170000Z'], new Date('2026-11-28T18:01:02Z')) // 'v000002-20261128T180102Z'
 */
export function nextVersionName(existing: readonly string[], now: Date = new Date()): string {
  let highest = 0;
  for (const name of existing) if (isVersionName(name)) highest = Math.max(highest, versionSequence(name));
  return `v${String(highest + 1).padStart(6, '0')}-${compactUtc(now)}`;
}

/** Version names sorted oldest first (non-version names dropped). */
export function sortVersions(names: readonly string[]): string[] {
  return names.filter(isVersionName).sort((a, b) => versionSequence(a) - versionSequence(b) || a.localeCompare(b));
}
