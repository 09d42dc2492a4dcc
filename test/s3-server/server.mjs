// A real S3-compatible server on loopback for the tests: miniflare's local R2 bucket, served over
// the S3 API at /cdn-cgi/local/r2/s3 (path-style, SigV4). It enforces conditional writes
// (If-None-Match: *, If-Match: <etag>), which the tests of publishing and of the shared journal
// rely on. Run with this folder's Node 22 (`node_modules/.bin/node server.mjs`); it prints one
// JSON line with the endpoint and credentials, and stops on SIGTERM, SIGINT or when stdin closes.
import { Miniflare } from 'miniflare';

const bucket = process.env.S3_TEST_BUCKET ?? 'twinsearch';
const credentials = { accessKeyId: 'twinsearch-test-key', secretAccessKey: 'twinsearch-test-secret-0123456789' };

const mf = new Miniflare({
  modules: true,
  script: 'export default { fetch() { return new Response("twinsearch test S3 server"); } }',
  r2Buckets: { BUCKET: { id: bucket, s3Credentials: credentials } },
  r2Persist: process.env.S3_TEST_PERSIST || false,
  host: '127.0.0.1',
  port: Number(process.env.S3_TEST_PORT ?? 0),
});
const url = await mf.ready;
process.stdout.write(`${JSON.stringify({ endpoint: new URL('/cdn-cgi/local/r2/s3', url).href, bucket, ...credentials, node: process.version })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await mf.dispose().catch(() => undefined);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
