/** `npm run reindex -- --model DIR --gallery DIR [--out index]`: the nightly incremental re-index. */
import { indexProgram } from './index-program.js';

await indexProgram('reindex').parseAsync(process.argv);
