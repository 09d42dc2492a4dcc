// A worker entry for worker.test.ts: TypeScript syntax (so it needs the tsx shim from the sources), answers once.
import { parentPort, workerData } from 'node:worker_threads';
import { workerDataOf } from './worker.js';

const { echo }: { echo: number } = workerDataOf(workerData);
parentPort?.postMessage({ echo: echo + 1 });
