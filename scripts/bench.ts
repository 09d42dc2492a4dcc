/**
 * `npm run bench -- <name>`: the benchmark suite. Each writes JSON to bench/results/ and its
 * section of docs/benchmarks.md, which is re-assembled after every run (`npm run bench -- docs`
 * re-assembles it alone).
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { annBenchCommand } from './bench-ann.js';
import { coldstartBenchCommand, reindexBenchCommand } from './bench-wrappers.js';
import { embedBenchCommand } from './bench-embed.js';
import { faceBenchCommand } from './bench-faces.js';
import { trainBenchCommand } from './bench-train.js';
import { apiBenchCommand } from './api-bench.js';
import { openSetBenchCommand } from './bench-open-set.js';
import { assembleBenchmarksDoc, BENCHMARKS_DOC, RESULTS_DIR } from './bench-report.js';

const program = new Command('bench').description('twinsearch benchmarks (results: bench/results/, docs/benchmarks.md)');
program.addCommand(embedBenchCommand());
program.addCommand(annBenchCommand());
program.addCommand(apiBenchCommand());
program.addCommand(coldstartBenchCommand());
program.addCommand(reindexBenchCommand());
program.addCommand(trainBenchCommand());
program.addCommand(faceBenchCommand());
program.addCommand(openSetBenchCommand());
program.addCommand(
  new Command('docs').description('re-assemble docs/benchmarks.md from bench/results/*.md').action(async () => {
    await assembleBenchmarksDoc();
  }),
);
// Only runs that wrote into the repo's results folder belong on the page.
program.hook('postAction', async (_program, action) => {
  const out = (action.opts() as { out?: string }).out;
  if (action.name() !== 'docs' && (out === undefined || resolve(out) === RESULTS_DIR)) {
    await assembleBenchmarksDoc();
    process.stderr.write(`updated ${BENCHMARKS_DOC}\n`);
  }
});
await program.parseAsync(process.argv);
