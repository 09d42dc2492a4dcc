/** Reading stored benchmark results (bench/results/<name>.json and .md): pure reading, no runs. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { machine } from './common.js';

/** What `writeResults` stores around a benchmark's own result. */
export interface StoredResult<T> {
  name: string;
  measuredAt?: string;
  machine?: ReturnType<typeof machine>;
  result: T;
}

export async function readText(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch(() => null);
}

/** `<name>.json` of `resultsDir`, or null when that benchmark has not run. */
export async function readStored<T>(resultsDir: string, name: string): Promise<StoredResult<T> | null> {
  const text = await readText(join(resultsDir, `${name}.json`));
  return text ? (JSON.parse(text) as StoredResult<T>) : null;
}

export const n0 = (x: number): string => Math.round(x).toLocaleString('en-US');
