/** The HTTP benchmark's markdown (bench/results/http.md): throughput and latency, where the time goes, cold starts. */
import { embeddingLabel, machine, median, table } from '../common.js';
import { QUERY_LABEL, round, type ApiBenchResult, type LoadRun } from './types.js';

export function httpMarkdown(r: ApiBenchResult, command: string): string {
  const m = r.machine;
  const end = machine();
  // The columns that name a run, first in both tables.
  const runColumns = (workers: number, run: LoadRun) => ({ route: `/v1/${run.route}`, embedding: embeddingLabel(workers), query: QUERY_LABEL[run.query], connections: run.connections });
  const loadRows = r.servers.flatMap((s) =>
    s.runs.map((run) => ({
      ...runColumns(s.workers, run),
      'req/s': run.rps,
      'p50 ms': run.p50,
      'p90 ms': run.p90,
      'p97.5 ms': run.p97_5,
      'p99 ms': run.p99,
      errors: run.errors,
      'non-2xx': run.non2xx,
      'images/pass': run.imagesPerPass,
    })),
  );
  const stageRows = r.servers.flatMap((s) =>
    s.runs.map((run) => ({
      ...runColumns(s.workers, run),
      'client mean': run.meanMs,
      handler: run.server.handler,
      decode: run.server.decode,
      embed: run.server.embed,
      search: run.server.search,
      serialise: run.server.serialise,
      'outside handler': round(run.meanMs - run.server.handler, 2),
    })),
  );
  const lambdaMs = (workers: number): number[] => r.lambdaColdStartMs.find((l) => l.workers === workers)?.ms ?? [];
  const coldRows = r.servers.map((s) => ({
    embedding: embeddingLabel(s.workers),
    'npm run dev (adapter), median ms': median(s.coldStartMs),
    'runs ms': s.coldStartMs.join(', '),
    'Lambda handler, median ms': median(lambdaMs(s.workers)),
    'Lambda runs ms': lambdaMs(s.workers).join(', '),
  }));
  return [
    `# HTTP benchmark: POST /v1/search and /v1/verify`,
    '',
    `Measured ${new Date().toISOString().slice(0, 16)}Z on ${m.cpu}, ${m.cores} cores, Node ${m.node}; load average (1 / 5 / 15 min) ${m.loadavg.join(' / ')} at the start and ${end.loadavg.join(' / ')} at the end (a shared machine: other work runs on it).`,
    `Model ${r.model.id} (${r.model.source}); gallery ${r.gallery.images} images of ${r.gallery.identities} identities (${r.gallery.source}); index ${r.index.version} (M ${r.index.M}, ef ${r.index.ef}).`,
    `Server: \`npm run dev\`'s adapter in its own process; load: autocannon in the benchmark process on the same machine; raw image bodies, a read key, identity-level search, k = 5.`,
    `Queries: 64 Fashion-MNIST pictures not in the gallery, sent as 28x28 PNGs (the model's input size: decoded in JavaScript without sharp) and as 640x480 JPEGs (decoded and shrunk by sharp).`,
    '',
    `Command: \`${command}\``,
    '',
    '## Throughput and latency',
    '',
    table(loadRows),
    '',
    '## Where the time goes (mean ms per request)',
    '',
    '`handler` is the server-side time from the first middleware to the response (auth, body read, decode, embed, search, JSON);',
    '`embed` includes waiting for a free embedding slot (queueing under load); `outside handler` is the client-measured mean minus',
    'the handler: HTTP parsing, the socket and the load generator itself, which shares the two cores.',
    '',
    table(stageRows),
    '',
    '## Cold start (process start to the first 200 from /v1/search)',
    '',
    table(coldRows),
    '',
  ].join('\n');
}
