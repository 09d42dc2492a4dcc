/**
 * Where results go, and what every suite benchmark's markdown opens with: when it ran, on what
 * machine, with which package versions, by which command.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../server/config.js';
import { machine } from './common.js';

export { REPO_ROOT };
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

/** Packages whose version decides the numbers. */
export const MEASURED_PACKAGES = ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-node', 'hnswlib-node', 'usearch', 'hono', '@hono/node-server', 'sharp'] as const;

/**
 * Node's version and the installed version of each package (`absent` when it is not installed).
 *
 * @example
 * versions(); // { node: 'v20.20.0', 'hnswlib-node': '3.0.0', usearch: '2.25.3', '@tensorflow/tfjs-node': 'absent', ... }
 */
export function versions(packages: readonly string[] = MEASURED_PACKAGES, root = REPO_ROOT): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const name of packages) {
    try {
      // Read the file: several packages do not export their package.json.
      out[name] = (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      out[name] = 'absent';
    }
  }
  return out;
}

/** `name version, name version` for a markdown line. */
export function formatVersions(v: Record<string, string>): string {
  return Object.entries(v).map(([name, version]) => `${name} ${version}`).join(', ');
}

/** What every section opens with: when, on what, with which versions, by which command. */
export interface SectionContext {
  measuredAt: string;
  machine: ReturnType<typeof machine>;
  versions: Record<string, string>;
  command: string;
}

/** The context of a run starting now. */
export function sectionContext(command: string): SectionContext {
  return { measuredAt: new Date().toISOString(), machine: machine(), versions: versions(), command };
}

/**
 * The header lines of a benchmark's markdown.
 *
 * @example
 * sectionHeader('embed: tower throughput vs the matmul peak', sectionContext('npm run bench -- embed'));
 */
export function sectionHeader(title: string, c: SectionContext): string {
  const m = c.machine;
  return [
    `## ${title}`,
    '',
    `Measured ${c.measuredAt.slice(0, 16)}Z on ${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, load average ${m.loadavg.join(' / ')} at the start (a shared machine).`,
    `Versions: ${formatVersions(c.versions)}.`,
    '',
    `Command: \`${c.command}\``,
    '',
  ].join('\n');
}

/** The command line a suite benchmark was started with, for its report. */
export function suiteCommand(name: string): string {
  return `npm run bench -- ${name} ${process.argv.slice(3).join(' ')}`.trim();
}
