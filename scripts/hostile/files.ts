/** The corpus on disk: `cases.json` (requests without bodies, each naming its body file) and one `.bin` per body. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostileCase } from './corpus.js';

/**
 * Writes the corpus: `cases.json` (requests without bodies, each naming its body file) and one
 * `NNN-name.bin` per body. Returns the paths written.
 *
 * @example
 * await writeHostileCorpus('/tmp/hostile', await buildHostileCorpus({ readKey, adminKey }));
 */
export async function writeHostileCorpus(dir: string, cases: readonly HostileCase[]): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  const index = [];
  for (const [i, c] of cases.entries()) {
    const { body, ...rest } = c;
    let bodyFile: string | null = null;
    if (body) {
      bodyFile = `${String(i).padStart(3, '0')}-${c.name}.bin`;
      await writeFile(join(dir, bodyFile), body);
      written.push(join(dir, bodyFile));
    }
    index.push({ ...rest, bodyFile, bodyBytes: body?.byteLength ?? 0 });
  }
  await writeFile(join(dir, 'cases.json'), `${JSON.stringify(index, null, 2)}\n`);
  written.push(join(dir, 'cases.json'));
  return written;
}

