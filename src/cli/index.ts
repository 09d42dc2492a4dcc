/** `npm run index -- --model DIR --gallery DIR [--out index]`: full build of a new index snapshot. */
import { indexProgram } from './index-program.js';

await indexProgram('build').parseAsync(process.argv);
