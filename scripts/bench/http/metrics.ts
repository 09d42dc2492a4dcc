/** Where a request's time goes, from the server's own Prometheus metrics scraped before and after a load run. */
import { KEY, round, type BenchRoute, type StageBreakdown } from './types.js';

/** Sums and counts of the server's histograms and counters that the breakdown needs. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(twinsearch_(?:stage_duration_seconds|http_request_duration_seconds)_(?:sum|count)\{[^}]*\}|twinsearch_embed_(?:passes|images)) ([\d.e+-]+)$/.exec(line);
    if (m) values.set(m[1], Number(m[2]));
  }
  return values;
}

/**
 * Mean ms per request in the handler and in each stage, and images per forward pass, between two scrapes.
 *
 * @example
 * breakdown('search', await scrape(url), (await load(), await scrape(url))).server.embed; // e.g. 3.2
 */
export function breakdown(route: BenchRoute, before: Map<string, number>, after: Map<string, number>): StageBreakdown {
  const delta = (key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);
  const mean = (name: string, labels: string): number => {
    const count = delta(`${name}_count{${labels}}`);
    return count ? round((delta(`${name}_sum{${labels}}`) / count) * 1000, 3) : 0;
  };
  const stage = (s: string): number => mean('twinsearch_stage_duration_seconds', `stage="${s}"`);
  const passes = delta('twinsearch_embed_passes');
  return {
    server: { handler: mean('twinsearch_http_request_duration_seconds', `method="POST",route="/v1/${route}"`), decode: stage('decode'), embed: stage('embed'), search: stage('search'), serialise: stage('serialise') },
    imagesPerPass: passes ? round(delta('twinsearch_embed_images') / passes, 2) : 0,
  };
}
