/**
 * `npm run dev`: serves the Workers module named by wrangler.toml on Node (the wrangler-compatible
 * adapter, src/api/node), with wrangler.toml's [vars], .dev.vars secrets and crons.
 *
 * The config is read while the server's modules load: the heavy import happens after the read
 * has started.
 */
import { Command } from 'commander';
import { readWranglerEnv } from '../api/node/wrangler-config.js';
import { parsePort, say } from './common.js';

interface Flags {
  config: string;
  host: string;
  port: number;
  testScheduled?: boolean;
  crons: boolean;
}

const program = new Command('dev')
  .description('Serve the API (wrangler.toml main) on Node with wrangler.toml vars, .dev.vars secrets and crons')
  .option('-c, --config <file>', 'wrangler config file', 'wrangler.toml')
  .option('--host <address>', 'address to bind (without API keys only loopback is allowed)', '127.0.0.1')
  .option('--port <n>', 'port (0 = any free port)', parsePort, 8787)
  .option('--test-scheduled', 'expose GET /__scheduled?cron=… to fire the scheduled handler')
  .option('--no-crons', 'do not run the crons of wrangler.toml')
  .action(async (flags: Flags) => {
    const wrangler = readWranglerEnv(flags.config);
    wrangler.catch(() => undefined); // reported by startNodeAdapter
    const { startNodeAdapter } = await import('../api/node/index.js');
    const server = await startNodeAdapter({ configPath: flags.config, wrangler, host: flags.host, port: flags.port, testScheduled: flags.testScheduled, crons: flags.crons, handleSignals: true });
    say(`twinsearch API on ${server.url}  (demo: ${server.url}/, docs: ${server.url}/openapi.json)`);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  say(`dev: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
