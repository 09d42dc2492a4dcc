/** `npm run bench -- <name>`: the benchmark suite. Each writes JSON to bench/results/ and a markdown table. */
import { Command } from 'commander';
import { trainBenchCommand } from './bench-train.js';
import { apiBenchCommand } from './api-bench.js';

const program = new Command('bench').description('twinsearch benchmarks');
program.addCommand(trainBenchCommand());
program.addCommand(apiBenchCommand());
await program.parseAsync(process.argv);
