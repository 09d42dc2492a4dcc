/** Sends the corpus to a server: every case once (checked against its documented answer), or many requests cycling it. */
import { matches, sendCase, type CaseAnswer } from './client.js';
import type { HostileCase } from './corpus.js';

/** A case's result against its expectation. */
export interface CaseResult {
  name: string;
  group: string;
  expect: HostileCase['expect'];
  got: CaseAnswer;
  ok: boolean;
}

/** Runs `job(0)` … `job(count - 1)`, `concurrency` at a time. */
async function pool(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await job(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * Sends every case once, `concurrency` at a time, and compares with the documented answers.
 *
 * @example
 * const results = await runCorpus(server.url, cases); results.filter((r) => !r.ok) // []
 */
export async function runCorpus(baseUrl: string, cases: readonly HostileCase[], concurrency = 4): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array(cases.length);
  await pool(cases.length, concurrency, async (i) => {
    const got = await sendCase(baseUrl, cases[i]);
    results[i] = { name: cases[i].name, group: cases[i].group, expect: cases[i].expect, got, ok: matches(cases[i], got) };
  });
  return results;
}

/**
 * Statuses of `count` requests cycling the corpus (`concurrency` at a time), and how many were not the documented answer.
 *
 * @example
 * const { statuses, mismatches } = await hammer(server.url, cases, 1000); mismatches // 0
 */
export async function hammer(baseUrl: string, cases: readonly HostileCase[], count: number, concurrency = 8): Promise<{ statuses: Map<number, number>; mismatches: number }> {
  const statuses = new Map<number, number>();
  let mismatches = 0;
  await pool(count, concurrency, async (i) => {
    const c = cases[i % cases.length];
    const got = await sendCase(baseUrl, c);
    statuses.set(got.status, (statuses.get(got.status) ?? 0) + 1);
    if (!matches(c, got)) mismatches++;
  });
  return { statuses, mismatches };
}
