/**
 * `npm run hostile`: writes the hostile-input corpus and, with --run, sends it to a real server.
 *
 *   npx tsx scripts/hostile/hostile.ts [--out DIR] [--seed 1]           # write the corpus (cases.json + one .bin body per case)
 *   npm run hostile -- [--requests 1000] [--results-out bench/results]  # = --run: also serve a fixture over a real socket and send it
 *
 * `--run` starts the Node adapter (in this process, embedding in the serving thread) over the tiny
 * fixture model and gallery, sends every case once, then `--requests` more cycling the corpus, and
 * prints mismatches, 5xx, RSS and tensor counts (npm run hostile passes --expose-gc, for heap numbers
 * after a GC); writes bench/results/hostile.{json,md}. test/hostile.test.ts runs the same in `npm test`.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ADMIN_KEY, READ_KEY } from '../../test/fixtures/api.js';
import { writeResults } from '../bench/common.js';
import { RESULTS_DIR } from '../bench/context.js';
import { assembleBenchmarksDoc } from '../bench/index-page.js';
import { startFixtureServer } from '../server/fixture.js';
import { buildHostileCorpus } from './corpus.js';
import { writeHostileCorpus } from './files.js';
import { hostileMarkdown, type HostileSummary } from './report.js';
import { hammer, runCorpus } from './runner.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    seed: { type: 'string', default: '1' },
    run: { type: 'boolean', default: false },
    requests: { type: 'string', default: '1000' },
    'results-out': { type: 'string', default: RESULTS_DIR },
  },
});
const cases = await buildHostileCorpus({ seed: Number(values.seed), readKey: READ_KEY, adminKey: ADMIN_KEY });
const out = resolve(values.out ?? (await mkdtemp(join(tmpdir(), 'hostile-corpus-'))));
const files = await writeHostileCorpus(out, cases);
console.log(`${cases.length} cases, ${files.length} files in ${out}`);
if (values.run) {
  const requests = Number(values.requests);
  const server = await startFixtureServer();
  try {
    const t0 = performance.now();
    const results = await runCorpus(server.url, cases);
    const bad = results.filter((r) => !r.ok);
    for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.group.padEnd(10)} ${r.name.padEnd(40)} expected ${r.expect.status} ${r.expect.code ?? ''} got ${r.got.status} ${r.got.code ?? ''}${r.got.error ? ` (${r.got.error})` : ''}`);
    console.log(`corpus: ${results.length - bad.length}/${results.length} as documented, ${results.filter((r) => r.got.status >= 500).length} 5xx, ${(performance.now() - t0).toFixed(0)} ms`);
    const before = server.sample();
    const t1 = performance.now();
    const { statuses, mismatches } = await hammer(server.url, cases, requests);
    const after = server.sample();
    console.log(`${requests} hostile requests in ${((performance.now() - t1) / 1000).toFixed(1)} s: statuses ${JSON.stringify(Object.fromEntries(statuses))}, mismatches ${mismatches}`);
    console.log(`RSS ${before.rssMiB} -> ${after.rssMiB} MiB (peak ${server.peakRssMiB()} MiB), heap ${before.heapMiB} -> ${after.heapMiB} MiB, tensors ${before.tensors} -> ${after.tensors}`);
    const summary: HostileSummary = {
      cases: results.length,
      asDocumented: results.length - bad.length,
      fiveHundreds: results.filter((r) => r.got.status >= 500).length,
      requests,
      seconds: Math.round((performance.now() - t1) / 100) / 10,
      statuses: Object.fromEntries(statuses),
      mismatches,
      memory: { before, after, peakRssMiB: server.peakRssMiB() },
      results,
    };
    const resultsOut = values['results-out'] as string;
    console.log(`wrote ${(await writeResults(resultsOut, 'hostile', summary, hostileMarkdown(summary))).join(', ')}`);
    if (resolve(resultsOut) === RESULTS_DIR) await assembleBenchmarksDoc();
    if (bad.length || mismatches || after.tensors !== before.tensors) process.exitCode = 1;
  } finally {
    await server.close();
  }
}
