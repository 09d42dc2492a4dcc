/**
 * Child process of the object-storage cold-start benchmark (s3-cold-start.ts): builds the serving
 * runtime from process.env (INDEX_DIR a folder or an s3:// URI), answers one POST /v1/search with
 * the base64 PNG read from stdin, and prints one JSON line: the status, the milliseconds since this
 * process started, and how the snapshot was loaded (download, verify, open, catch-up).
 */
import { text } from 'node:stream/consumers';
import { silentLogger } from '../../src/api/log.js';
import { createRuntime } from '../../src/api/runtime.js';
import type { LocalHnswStore } from '../../src/index/local-store.js';

const body = Buffer.from((await text(process.stdin)).trim(), 'base64');
const runtime = await createRuntime(process.env, { log: silentLogger });
const res = await runtime.app.request('/v1/search?k=5', { method: 'POST', body, headers: { authorization: `Bearer ${process.env.API_KEYS ?? ''}`, 'content-type': 'image/png' } });
await res.arrayBuffer();
const firstSearchMs = performance.now();
process.stdout.write(`${JSON.stringify({ status: res.status, firstSearchMs, load: (runtime.store as LocalHnswStore).lastLoad })}\n`);
await runtime.close();
