// Reads wrangler.toml and .dev.vars with wrangler's own readers, in a worker thread: importing
// wrangler takes about a second of CPU, which this way overlaps the server's own start-up.
// Plain JavaScript so the thread needs no TypeScript loader.
import { parentPort, workerData } from 'node:worker_threads';

try {
  const { unstable_readConfig, unstable_getVarsForDev } = await import('wrangler');
  const config = unstable_readConfig({ config: workerData.configPath }, { hideWarnings: true });
  const bindings = unstable_getVarsForDev(workerData.configPath, undefined, config.vars, undefined, true);
  const vars = Object.fromEntries(Object.entries(bindings).map(([key, binding]) => [key, binding.value]));
  parentPort.postMessage({ ok: true, main: config.main ?? null, crons: config.triggers?.crons ?? [], vars });
} catch (error) {
  parentPort.postMessage({ ok: false, error: error instanceof Error ? error.message : String(error) });
}
