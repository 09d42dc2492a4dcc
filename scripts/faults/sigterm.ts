/**
 * SIGTERM to `npm run dev` while clients search: every request in flight at the signal completes and
 * the process exits 0; requests started after it may be refused. With `keepAlive: false` each request
 * opens a new connection, so some still wait in the listener's accept queue at the signal.
 *
 * The clients here are purpose-built rather than the shared autocannon helper (scripts/load): the
 * check needs, per request, when it started, when it was fully written and when it ended relative to
 * the signal (to count exactly the requests in flight at that moment and how each ended), and clients
 * that open a new connection per request; autocannon reports neither and always keeps connections alive.
 */
import { Agent, request as httpRequest } from 'node:http';
import { bearer, createFixture, READ_KEY, syntheticPng } from '../../test/fixtures/api.js';
import { spawnDevServer } from '../server/dev.js';
import { writeFixtureConfig } from '../server/fixture.js';
import { answerVersion, sleep, type LoadStats } from './fixture.js';

interface SearchOutcome {
  status: number;
  version: string | null;
  error?: string;
  startedAt: number;
  /** When the request was fully written (undefined: it never was). */
  sentAt?: number;
}

/**
 * One search (node:http). With `agent` (keep-alive, one connection per client, as a proxy or
 * autocannon would), or over a fresh connection each time (`agent: false`).
 */
function searchRequest(url: string, body: Uint8Array, agent: Agent | false): Promise<SearchOutcome> {
  const startedAt = performance.now();
  let sentAt: number | undefined;
  return new Promise((done) => {
    const req = httpRequest(`${url}/v1/search`, { method: 'POST', agent, headers: { ...bearer(READ_KEY), 'content-type': 'image/png', 'content-length': body.byteLength } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', (e) => done({ status: res.statusCode ?? 0, version: null, error: e.message, startedAt }));
      res.on('end', () => done({ status: res.statusCode ?? 0, version: answerVersion(Buffer.concat(chunks).toString('utf8')), startedAt }));
    });
    req.on('error', (e) => done({ status: 0, version: null, error: (e as NodeJS.ErrnoException).code ?? e.message, startedAt, sentAt }));
    req.on('finish', () => (sentAt = performance.now()));
    req.end(body);
  });
}

/** Runs `connections` search loops (one request at a time each) while `during()` runs, and hands every outcome to `onResult`. */
async function searchWhile(url: string, connections: number, during: () => Promise<void>, options: { keepAlive: boolean; onResult: (r: SearchOutcome & { endedAt: number }) => void }): Promise<LoadStats> {
  const png = await syntheticPng(2002);
  const agent = options.keepAlive ? new Agent({ keepAlive: true, maxSockets: connections }) : false;
  const stats: LoadStats = { requests: 0, statuses: {}, errors: {}, unanswered: 0, versions: [] };
  const versions = new Set<string>();
  let stop = false;
  const client = async (): Promise<void> => {
    while (!stop) {
      const r = await searchRequest(url, png, agent);
      options.onResult({ ...r, endedAt: performance.now() });
      stats.requests++;
      if (r.status) stats.statuses[String(r.status)] = (stats.statuses[String(r.status)] ?? 0) + 1;
      else stats.errors[r.error ?? 'unknown'] = (stats.errors[r.error ?? 'unknown'] ?? 0) + 1;
      if (r.version) versions.add(r.version);
      if (!r.status) await sleep(20); // refused: do not spin
    }
  };
  const clients = Array.from({ length: connections }, client);
  try {
    await during();
  } finally {
    stop = true;
    await Promise.all(clients);
    if (agent) agent.destroy();
  }
  stats.versions = [...versions];
  return stats;
}

export interface SigtermResult {
  connections: number;
  exitCode: number | null;
  /** From SIGTERM to process exit. */
  drainMs: number;
  /** Requests under way when SIGTERM was sent, and how they ended. */
  inFlightAtSignal: number;
  inFlightCompleted200: number;
  /** In-flight requests that did not get a 200, by error (or status); and how many of them had been fully sent. */
  inFlightFailed: Record<string, number>;
  inFlightFailedFullySent: number;
  /** Requests started after the signal: refused connections are expected. */
  afterSignal: Record<string, number>;
  load: LoadStats;
}

/**
 * Starts `npm run dev`'s CLI (a child process) on a fixture, puts `connections` clients on it,
 * sends SIGTERM after `loadMs`, and follows every request under way at that moment.
 *
 * @example
 * const r = await sigtermUnderLoad({ connections: 64, loadMs: 3000 }); r.inFlightFailed // {}
 */
export async function sigtermUnderLoad(options: { connections: number; loadMs: number; keepAlive?: boolean }): Promise<SigtermResult> {
  const fx = await createFixture({ identities: 8, perIdentity: 4 });
  const config = await writeFixtureConfig(fx, { EMBED_WORKERS: '0' });
  const dev = spawnDevServer(config, { port: 0 });
  const child = dev.child;
  try {
    const url = await dev.url;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let signalAt = Infinity;
    const outcomes = new Map<number, { status: number; error?: string; sentBeforeSignal: boolean }>();
    let id = 0;
    let exitAt = 0;
    const afterSignal: Record<string, number> = {};
    const load = await searchWhile(
      url,
      options.connections,
      async () => {
        await sleep(options.loadMs);
        signalAt = performance.now();
        child.kill('SIGTERM');
        await exited;
        exitAt = performance.now();
      },
      { keepAlive: options.keepAlive ?? true, onResult: (r) => {
        // Match results to requests by start time: anything started before the signal and ending after it was in flight.
        const key = id++;
        if (r.startedAt < signalAt && r.endedAt >= signalAt) outcomes.set(key, { status: r.status, error: r.error, sentBeforeSignal: r.sentAt !== undefined && r.sentAt < signalAt });
        if (r.startedAt >= signalAt) afterSignal[r.status ? String(r.status) : (r.error ?? 'unknown')] = (afterSignal[r.status ? String(r.status) : (r.error ?? 'unknown')] ?? 0) + 1;
      } },
    );
    const inFlight = [...outcomes.values()];
    return {
      connections: options.connections,
      exitCode: child.exitCode,
      drainMs: Math.round(exitAt - signalAt),
      inFlightAtSignal: inFlight.length,
      inFlightCompleted200: inFlight.filter((o) => o.status === 200).length,
      inFlightFailed: inFlight.filter((o) => o.status !== 200).reduce<Record<string, number>>((m, o) => {
        const key = o.status ? String(o.status) : (o.error ?? 'unknown');
        m[key] = (m[key] ?? 0) + 1;
        return m;
      }, {}),
      inFlightFailedFullySent: inFlight.filter((o) => o.status !== 200 && o.sentBeforeSignal).length,
      afterSignal,
      load,
    };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await fx.cleanup();
  }
}

