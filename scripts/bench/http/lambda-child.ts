/**
 * Child process of the cold-start benchmark (cold-start.ts): a Lambda cold start. Imports functions/lambda.ts (the
 * runtime is built from process.env on the first event), answers one POST /v1/search event with
 * the base64 PNG read from stdin, prints `status <code>` and waits to be killed.
 */
import { text } from 'node:stream/consumers';
import type { LambdaEvent } from 'hono/aws-lambda';

const body = (await text(process.stdin)).trim();
const { handler } = await import('../../../functions/lambda.js');
const event = {
  version: '2.0',
  routeKey: '$default',
  rawPath: '/v1/search',
  rawQueryString: '',
  headers: { host: 'localhost', authorization: `Bearer ${process.env.API_KEYS ?? ''}`, 'content-type': 'image/png' },
  requestContext: { http: { method: 'POST', path: '/v1/search', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' }, requestId: 'cold', routeKey: '$default', stage: '$default', timeEpoch: Date.now() },
  body,
  isBase64Encoded: true,
} as unknown as LambdaEvent;
const result = await handler(event);
process.stdout.write(`status ${result.statusCode}\n`);
