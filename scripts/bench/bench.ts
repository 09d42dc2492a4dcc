/**
 * `npm run bench -- <name>`: the benchmark suite. Each writes bench/results/<name>.{json,md}; after a
 * run into that folder, the index page docs/benchmarks.md is written again (`npm run bench -- docs`
 * writes it alone, from the stored files).
 */
import { resolve } from 'node:path';
import { Command } from 'commander';
import { annBenchCommand } from './ann.js';
import { coldstartBenchCommand } from './coldstart.js';
import { RESULTS_DIR } from './context.js';
import { embedBenchCommand } from './embed.js';
import { faceBenchCommand } from './faces.js';
import { httpBenchCommand } from './http/command.js';
import { assembleBenchmarksDoc, BENCHMARKS_DOC } from './index-page.js';
import { indexRecallBenchCommand } from './index-recall.js';
import { indexSyntheticBenchCommand } from './index-synthetic.js';
import { openSetBenchCommand } from './open-set.js';
import { reindexBenchCommand } from './reindex.js';
import { s3ColdStartBenchCommand } from './s3-cold-start.js';
import { s3PublishBenchCommand } from './s3-publish.js';
import { trainBenchCommand } from './train.js';

const program = new Command('bench').description('twinsearch benchmarks (results: bench/results/, index: docs/benchmarks.md)');
program.addCommand(embedBenchCommand());
program.addCommand(annBenchCommand());
program.addCommand(httpBenchCommand());
program.addCommand(coldstartBenchCommand());
program.addCommand(reindexBenchCommand());
program.addCommand(trainBenchCommand());
program.addCommand(indexRecallBenchCommand());
program.addCommand(indexSyntheticBenchCommand());
program.addCommand(faceBenchCommand());
program.addCommand(openSetBenchCommand());
program.addCommand(s3ColdStartBenchCommand());
program.addCommand(s3PublishBenchCommand());
program.addCommand(
  new Command('docs').description('write docs/benchmarks.md from bench/results/ (runs nothing)').action(async () => {
    await assembleBenchmarksDoc();
    process.stderr.write(`wrote ${BENCHMARKS_DOC}\n`);
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
