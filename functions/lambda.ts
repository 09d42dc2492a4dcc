/**
 * AWS Lambda handler (API Gateway REST / HTTP API v2, Lambda function URLs, ALB): the one app,
 * configured from the function's environment variables (the same keys as wrangler.toml [vars];
 * API_KEYS / ADMIN_KEYS from secrets injected as environment variables). Binary bodies (raw
 * images, thumbnails) travel base64-encoded as API Gateway requires.
 */
import { Hono } from 'hono';
import { handle, type LambdaEvent } from 'hono/aws-lambda';
import { recordRequestTarget } from '../src/api/node/request-target.js';
import { getRuntime } from '../src/api/runtime.js';

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
