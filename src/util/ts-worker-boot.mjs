// Worker-thread bootstrap: registers tsx's loader in this thread, then imports the TypeScript entry.
// Node 20 does not pass the parent's --import hooks on to worker threads.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
