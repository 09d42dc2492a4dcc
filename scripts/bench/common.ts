/** What every benchmark shares: the machine it ran on, its result files, markdown tables. */
import { mkdir } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/util/atomic.js';

/** What the numbers were measured on (the machine is shared: the load average matters). */
export function machine(): { cpu: string; cores: number; memGiB: number; node: string; loadavg: number[] } {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/**
 * Writes `<name>.json` (with the machine and time) and `<name>.md` into `dir`.
 *
 * @example
 * await writeResults('bench/results', 'index-recall', result, table);
 */
export async function writeResults(dir: string, name: string, result: unknown, markdownText: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, `${name}.json`);
  const md = join(dir, `${name}.md`);
  await writeFileAtomic(json, `${JSON.stringify({ name, measuredAt: new Date().toISOString(), machine: machine(), result }, null, 2)}\n`);
  await writeFileAtomic(md, markdownText);
  return [json, md];
}

/** Peak-ish memory of this process in MiB. */
export function memoryMiB(): { rss: number; heapUsed: number; external: number } {
  const m = process.memoryUsage();
  const mib = (x: number): number => Math.round(x / 2 ** 20);
  return { rss: mib(m.rss), heapUsed: mib(m.heapUsed), external: mib(m.external) };
}

/** Markdown table from rows of equal keys. */
export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return '';
  const keys = Object.keys(rows[0]);
  return [`| ${keys.join(' | ')} |`, `|${keys.map(() => '---:').join('|')}|`, ...rows.map((r) => `| ${keys.map((k) => String(r[k])).join(' | ')} |`)].join('\n');
}

/** The embedding setting of a server run in reports: EMBED_WORKERS 0 embeds in the serving thread. */
export function embeddingLabel(workers: number): string {
  return workers === 0 ? 'serving thread' : `${workers} worker thread${workers > 1 ? 's' : ''}`;
}

/** The median (the lower middle value of an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
}

/** Comma-separated numbers, for list options (`--ef 10,20,40`). */
export const numberList = (v: string): number[] => v.split(',').map((x) => Number(x.trim()));
