/**
 * AWS Lambda entry points, configured from the function's environment variables (the same keys as
 * wrangler.toml [vars]; API_KEYS / ADMIN_KEYS from the platform's secret store, see template.yaml):
 *
 * - `handler`: the HTTP API for API Gateway (REST and HTTP API v2), function URLs and ALB. Binary
 *   bodies (raw images, thumbnails) travel base64-encoded as those services require.
 * - `scheduled`: the nightly re-index, from an EventBridge schedule. It embeds only what changed,
 *   publishes the new snapshot and returns its summary; serving instances pick it up when they
 *   next poll.
 *
 * Relative directories resolve against the deployment package (LAMBDA_TASK_ROOT, read-only):
 * writable data (index, gallery, enrolments) belongs in s3:// locations.
 */
import { Hono } from 'hono';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { recordRequestTarget } from '../src/api/node/request-target.js';
import { getRuntime } from '../src/api/runtime.js';
import { runScheduledReindex } from '../src/api/scheduled.js';
import type { IndexRunSummary } from '../src/index/reindex.js';

const lambda = new Hono<{ Bindings: { event: LambdaEvent } }>().all('*', async (c) => {
  const runtime = await getRuntime(process.env, { baseDir: process.env.LAMBDA_TASK_ROOT });
  // The event's path as the client sent it: the Request's URL has "." and ".." segments resolved.
  recordRequestTarget(c.req.raw, 'rawPath' in c.env.event ? c.env.event.rawPath : c.env.event.path);
  return runtime.app.fetch(c.req.raw);
});

/**
 * @example
 * const result = await handler(apiGatewayV2Event, lambdaContext); // { statusCode: 200, body: '{"decision":…}', … }
 */
export const handler = handle(lambda);

/** The fields of an EventBridge scheduled event this handler reads. */
export interface ScheduledEventLike {
  'detail-type'?: string;
  time?: string;
  resources?: string[];
}

/** What a `scheduled` invocation returns (Lambda records it): the run's summary, or why nothing ran. */
export type ScheduledResult = { published: true; summary: IndexRunSummary } | { published: false; reason: 'another run holds the index' };

/**
 * Runs the re-index to the end within the invocation (Lambda freezes the instance once a handler
 * returns). A failed run throws, so Lambda counts an error and EventBridge's retry policy applies;
 * the published snapshot keeps serving meanwhile.
 *
 * @example
 * await scheduled({ 'detail-type': 'Scheduled Event', source: 'aws.events', time: '2026-12-05T03:00:00Z', … });
 * // { published: true, summary: { version: 'v000008-…', added: 3, … } }
 */
export async function scheduled(_event: ScheduledEventLike): Promise<ScheduledResult> {
  // The job alone (model, gallery, index; it logs its own summary): it serves nothing, so it loads no serving runtime.
  const summary = await runScheduledReindex(process.env, { baseDir: process.env.LAMBDA_TASK_ROOT });
  return summary ? { published: true, summary } : { published: false, reason: 'another run holds the index' };
}
