/** The speed targets for this 2-core machine, checked against whatever results are stored. */
import { embeddingLabel } from './common.js';
import { n0, readStored } from './results.js';
import { RESULTS_DIR } from './context.js';

/** One target, checked against the stored results. */
export interface TargetCheck {
  /** The benchmark that measures it. */
  benchmark: string;
  target: string;
  measured: string;
  /** null: the benchmark has not run (or did not cover the case). */
  met: boolean | null;
}

interface EmbedJson { measured: { backend: string; peakGflops: number; rows: { batch: number; gflops: number }[] }[] }
interface AnnPoint { ef: number; recall: number; qps: number }
interface AnnJson { datasets: { name: string; count: number; exact: { qps: number }; engines: { engine: string; M: number; rows: AnnPoint[] }[] }[]; defaults: { M: number; ef: number } }
interface HttpJson { servers: { workers: number; runs: { route?: string; query?: string; connections: number; p50: number; p99: number; errors: number; non2xx: number }[] }[] }

/**
 * @example
 * const checks = await checkTargets('bench/results'); // [{ benchmark: 'http', target: '/search p50 <= 10 ms ...', measured: '...', met: true }, ...]
 */
export async function checkTargets(resultsDir = RESULTS_DIR): Promise<TargetCheck[]> {
  const checks: TargetCheck[] = [];
  const f2 = (x: number): string => x.toFixed(2);

  const http = (await readStored<HttpJson>(resultsDir, 'http'))?.result;
  // Judged on the 28x28 PNG queries, the workload the target was set for (bench/results/http.md has the photo-sized JPEG rows too).
  const judged = http?.servers.flatMap((s) => s.runs.filter((r) => r.connections === 16 && (r.route ?? 'search') === 'search' && (r.query ?? 'png28') === 'png28').map((r) => ({ ...r, workers: s.workers }))) ?? [];
  checks.push({
    benchmark: 'http',
    target: '/search p50 <= 10 ms and p99 <= 30 ms at 16 connections, zero errors (28x28 PNG queries)',
    measured: judged.length ? judged.map((r) => `${embeddingLabel(r.workers)}: p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.errors + r.non2xx} errors`).join('; ') : 'not run',
    met: judged.length ? judged.some((r) => r.p50 <= 10 && r.p99 <= 30 && r.errors + r.non2xx === 0) : null,
  });

  const ann = (await readStored<AnnJson>(resultsDir, 'ann'))?.result;
  const big = ann?.datasets.find((d) => d.name === 'synthetic');
  const bigPoints = big?.engines.filter((e) => e.engine === 'hnswlib').flatMap((e) => e.rows.map((p) => ({ ...p, M: e.M }))) ?? [];
  const good = bigPoints.filter((p) => p.recall >= 0.99 && big && p.qps >= 20 * big.exact.qps);
  const bestBig = good.length ? good.reduce((a, b) => (b.qps > a.qps ? b : a)) : null;
  checks.push({
    benchmark: 'ann',
    target: 'HNSW recall@10 >= 0.99 at >= 20x the exact scan\'s queries/s on 1M vectors',
    measured: big
      ? bestBig
        ? `${big.count.toLocaleString('en-US')} vectors: M ${bestBig.M}, ef ${bestBig.ef}: recall ${bestBig.recall.toFixed(4)} at ${n0(bestBig.qps)} q/s = ${n0(bestBig.qps / big.exact.qps)}x the exact scan (${n0(big.exact.qps)} q/s)`
        : `${big.count.toLocaleString('en-US')} vectors: no measured ef reached both`
      : 'not run',
    met: big ? bestBig !== null && big.count >= 1_000_000 : null,
  });

  // At twinsearch's defaults, compare with usearch's fastest point of at least the same recall.
  const gaps: string[] = [];
  let allFast: boolean | null = null;
  for (const d of ann?.datasets ?? []) {
    const ours = d.engines.find((e) => e.engine === 'hnswlib' && e.M === ann?.defaults.M)?.rows.find((p) => p.ef === ann?.defaults.ef);
    const peers = d.engines.filter((e) => e.engine === 'usearch').flatMap((e) => e.rows).filter((p) => ours && p.recall >= ours.recall);
    if (!ours || peers.length === 0) continue;
    const peer = peers.reduce((a, b) => (b.qps > a.qps ? b : a));
    gaps.push(`${d.name}: ${n0(ours.qps)} vs ${n0(peer.qps)} q/s (usearch ef ${peer.ef}, recall ${peer.recall.toFixed(4)} >= ${ours.recall.toFixed(4)})`);
    allFast = (allFast ?? true) && ours.qps >= peer.qps;
  }
  checks.push({
    benchmark: 'ann',
    target: 'twinsearch\'s ANN defaults no slower than usearch at equal (or higher) recall',
    measured: gaps.length ? `hnswlib at the defaults vs usearch: ${gaps.join('; ')}` : 'not run',
    met: allFast,
  });

  const embed = (await readStored<EmbedJson>(resultsDir, 'embed'))?.result;
  const perBackend = embed?.measured.map((m) => {
    const best = m.rows.reduce((a, b) => (b.gflops > a.gflops ? b : a));
    return { backend: m.backend, ratio: m.peakGflops / best.gflops, best };
  }) ?? [];
  checks.push({
    benchmark: 'embed',
    target: 'embed throughput within 3x of the matmul-peak bound',
    measured: perBackend.length ? perBackend.map((b) => `${b.backend}: ${f2(b.best.gflops)} GFLOP/s at batch ${b.best.batch}, peak / achieved ${b.ratio.toFixed(1)}x`).join('; ') : 'not run',
    met: perBackend.length ? perBackend.every((b) => b.ratio <= 3) : null,
  });
  const openSet = (await readStored<{ known: { rate: number; probes: number }; strangers: { rate: number; probes: number }; threshold: { value: number } }>(resultsDir, 'open-set'))?.result;
  checks.push({
    benchmark: 'open-set',
    target: "open set through /v1/search at the server's threshold: >= 97% of known photos matched right, <= 1% of strangers matched",
    measured: openSet ? `${(openSet.known.rate * 100).toFixed(1)}% of ${openSet.known.probes} known, ${(openSet.strangers.rate * 100).toFixed(1)}% of ${openSet.strangers.probes} strangers at ${openSet.threshold.value.toFixed(4)}` : 'not run',
    met: openSet ? openSet.known.rate >= 0.97 && openSet.strangers.rate <= 0.01 : null,
  });
  const faces = (await readStored<{ oneConnection: { ratio: number; errors: number }; eightConnections: { ratio: number; errors: number } }>(resultsDir, 'faces'))?.result;
  checks.push({
    benchmark: 'faces',
    target: 'a one-face 640x480 JPEG /v1/search <= 1.5x the bare face path at 1 connection; >= 80% of the workers fed directly at 8 connections, zero errors',
    measured: faces ? `${faces.oneConnection.ratio.toFixed(2)}x at 1 connection, ${(faces.eightConnections.ratio * 100).toFixed(0)}% at 8, ${faces.oneConnection.errors + faces.eightConnections.errors} errors` : 'not run',
    met: faces ? faces.oneConnection.ratio <= 1.5 && faces.eightConnections.ratio >= 0.8 && faces.oneConnection.errors + faces.eightConnections.errors === 0 : null,
  });
  return checks;
}
