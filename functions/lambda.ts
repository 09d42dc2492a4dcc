/**
 * AWS Lambda handler (API Gateway REST / HTTP API v2, Lambda function URLs, ALB): the one app,
 * configured from the function's environment variables (the same keys as wrangler.toml [vars];
 * API_KEYS / ADMIN_KEYS from secrets injected as environment variables). Binary bodies (raw
 * images, thumbnails) travel base64-encoded as API Gateway requires.
 */
import { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { getRuntime } from '../src/api/runtime.js';

const lambda = new Hono().all('*', async (c) => {
  const runtime = await getRuntime(process.env, { baseDir: process.env.LAMBDA_TASK_ROOT });
  return runtime.app.fetch(c.req.raw);
});

/**
 * @example
 * const result = await handler(apiGatewayV2Event, lambdaContext); // { statusCode: 200, body: '{"decision":…}', … }
 */
export const handler = handle(lambda);
