/**
 * Which C library versions the native files of a package need, read from their dynamic symbol
 * tables (`objdump -T`), against what the target platform provides. A file linked against a newer
 * glibc or libstdc++ than the platform's fails to load there ("version `GLIBC_2.38' not found").
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';

/** The symbol version families a Linux native addon can require. */
export type SymbolFamily = 'GLIBC' | 'GLIBCXX' | 'CXXABI';

/** What Amazon Linux 2023 (the AWS Lambda nodejs22.x and nodejs24.x runtimes) provides: glibc 2.34, GCC 11's libstdc++. */
export const AMAZON_LINUX_2023: Record<SymbolFamily, string> = { GLIBC: '2.34', GLIBCXX: '3.4.29', CXXABI: '1.3.13' };

/** Compares dotted versions numerically ('2.9' < '2.34'). */
export function compareVersions(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * The newest version of each family that `objdump -T` output requires (undefined symbols and
 * defined ones alike: both must exist in the platform's libraries).
 *
 * @example
 * requiredVersions('0000 DF *UND* 0000 (GLIBC_2.29) exp\n0000 DF *UND* 0000 (GLIBC_2.2.5) free'); // { GLIBC: '2.29' }
 */
export function requiredVersions(objdump: string): Partial<Record<SymbolFamily, string>> {
  const newest: Partial<Record<SymbolFamily, string>> = {};
  for (const [, family, version] of objdump.matchAll(/\((GLIBC|GLIBCXX|CXXABI)_([0-9][0-9.]*)\)/g)) {
    const f = family as SymbolFamily;
    const current = newest[f];
    if (current === undefined || compareVersions(version, current) > 0) newest[f] = version;
  }
  return newest;
}

/** The families a file needs newer than `platform` provides, as "GLIBC_2.38 > 2.34". */
export function tooNew(required: Partial<Record<SymbolFamily, string>>, platform: Record<SymbolFamily, string>): string[] {
  return (Object.entries(required) as [SymbolFamily, string][]).filter(([f, v]) => compareVersions(v, platform[f]) > 0).map(([f, v]) => `${f}_${v} > ${platform[f]}`);
}

export interface NativeFile {
  /** Path relative to the scanned folder. */
  file: string;
  required: Partial<Record<SymbolFamily, string>>;
  /** Empty when the platform can load it. */
  tooNew: string[];
}

/** Native addons and shared libraries: `*.node`, `*.so`, `*.so.1.2`. */
const isNative = (name: string): boolean => /\.node$|\.so(\.\d+)*$/.test(name);

/**
 * Runs `objdump -T` on every native file under `root` (binutils must be installed).
 *
 * @example
 * const files = await scanNativeFiles('dist/lambda/node_modules'); // [{ file: 'hnswlib-node/build/Release/addon.node', required: { GLIBC: '2.29', … }, tooNew: [] }, …]
 */
export async function scanNativeFiles(root: string, platform: Record<SymbolFamily, string> = AMAZON_LINUX_2023): Promise<NativeFile[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && isNative(e.name)).map((e) => join(e.parentPath, e.name));
  const out: NativeFile[] = [];
  for (const path of files.sort()) {
    const { stdout } = await promisify(execFile)('objdump', ['-T', path], { maxBuffer: 1 << 26 });
    const required = requiredVersions(stdout);
    out.push({ file: relative(root, path), required, tooNew: tooNew(required, platform) });
  }
  return out;
}
