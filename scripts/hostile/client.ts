/**
 * Sends one hostile case over a real socket and reads the answer. A client of its own, not the
 * shared autocannon helper (scripts/load): cases write bodies in chunks, declare a Content-Length
 * the body does not have, and need a fresh connection each, which autocannon cannot express.
 */
import { request as httpRequest } from 'node:http';
import type { HostileCase } from './corpus.js';

/** What came back for one case. `status` 0: no HTTP answer (the connection failed). */
export interface CaseAnswer {
  status: number;
  code: string | null;
  json: boolean;
  error?: string;
}

/**
 * Sends one case over a real socket (node:http, a fresh connection each time) and reads the answer.
 * Chunked and lying-length cases are written as such; the request is torn down once the answer
 * arrives (the server may stop reading an oversized body).
 *
 * @example
 * const answer = await sendCase('http://127.0.0.1:8787', c); answer.status === c.expect.status
 */
export function sendCase(baseUrl: string, c: HostileCase, timeoutMs = 30_000): Promise<CaseAnswer> {
  return new Promise((done) => {
    const headers: Record<string, string | number> = { ...c.headers };
    const body = c.body;
    if (c.chunked) headers['transfer-encoding'] = 'chunked';
    else if (c.declaredLength !== undefined) headers['content-length'] = c.declaredLength;
    else if (body) headers['content-length'] = body.byteLength;
    let settled = false;
    const finish = (answer: CaseAnswer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(answer);
    };
    // The path goes out byte for byte: a URL string would be parsed first, resolving "." and ".." segments.
    const { hostname, port } = new URL(baseUrl);
    const req = httpRequest({ hostname, port, path: c.path, method: c.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', (e) => finish({ status: res.statusCode ?? 0, code: null, json: false, error: e.message }));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const isJson = /application\/json/.test(String(res.headers['content-type']));
        let code: string | null = null;
        if (isJson) {
          try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null;
          } catch {
            code = null;
          }
        }
        finish({ status: res.statusCode ?? 0, code, json: isJson });
        req.destroy();
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error('timeout'));
      finish({ status: 0, code: null, json: false, error: 'timeout' });
    }, timeoutMs);
    // EPIPE/ECONNRESET after the server answered an oversized body is expected; only a missing answer counts.
    req.on('error', (e) => setTimeout(() => finish({ status: 0, code: null, json: false, error: e.message }), 200));
    if (body && c.chunked) {
      for (let at = 0; at < body.byteLength; at += 64 * 1024) req.write(body.subarray(at, at + 64 * 1024));
      req.end();
    } else if (body && c.declaredLength !== undefined) {
      req.write(body); // fewer bytes than declared: the request stays open until the server answers
    } else {
      req.end(body);
    }
  });
}

/** Whether an answer is the documented one: the status, and for errors a JSON body with the code. */
export function matches(c: HostileCase, got: CaseAnswer): boolean {
  if (got.status !== c.expect.status) return false;
  return c.expect.code === undefined ? got.json : got.json && got.code === c.expect.code;
}
