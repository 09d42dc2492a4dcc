// Invokes a Lambda package the way the Lambda runtime does: imports <package>/index.mjs (the cold
// start), then calls one export per invocation in order with the event and a context, and prints
// one JSON line with each result and its duration. Plain JavaScript: it runs on a bare Node 20 or
// 22 next to nothing but the package (no tsx, no repository node_modules).
//   node lambda-invoke.mjs <package dir> <job.json>    job: { invocations: [{ name, export, event }] }
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, jobFile] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobFile, 'utf8'));
const since = (t) => Math.round(performance.now() - t);

const started = performance.now();
const mod = await import(pathToFileURL(join(dir, 'index.mjs')).href);
const importMs = since(started);

const context = (name) => {
  const deadline = Date.now() + 900_000;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'twinsearch',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:eu-west-1:123456789012:function:${process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'twinsearch'}`,
    memoryLimitInMB: '2048',
    awsRequestId: `req-${name}`,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
};

const results = [];
for (const { name, export: exported, event } of job.invocations) {
  const t = performance.now();
  try {
    results.push({ name, ms: since(t), result: await mod[exported](event, context(name)) });
    results.at(-1).ms = since(t);
  } catch (error) {
    results.push({ name, ms: since(t), error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
}
process.stdout.write(`${JSON.stringify({ node: process.version, importMs, results })}\n`);
// The runtime's embedding workers and pollers keep the event loop alive; Lambda would freeze here.
process.exit(0);
