import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendLineDurable } from './durable.js';
import { parseJournal, readJournal } from './journal.js';

const sha = 'a'.repeat(64);
const enrol = (seq: number): string => JSON.stringify({ seq, at: '2026-11-28T00:00:00Z', op: 'enrol', identity: 'alice', images: [{ sha256: sha, size: 3 }] });

describe('journal', () => {
  it('parses records in order and reports the last sequence number', () => {
    const text = `${enrol(1)}\n${JSON.stringify({ seq: 2, at: 'x', op: 'delete', identity: 'alice', folder: [] })}\n`;
    const j = parseJournal(text);
    expect(j.records.map((r) => r.op)).toEqual(['enrol', 'delete']);
    expect(j.lastSeq).toBe(2);
    expect(j.tornTail).toBe(false);
  });

  it('ignores a torn last line (a crash mid-append) but refuses damage elsewhere', () => {
    const torn = `${enrol(1)}\n${enrol(2).slice(0, 20)}`;
    expect(parseJournal(torn)).toMatchObject({ lastSeq: 1, tornTail: true });
    expect(() => parseJournal(`${enrol(1)}\n{oops}\n${enrol(2)}\n`)).toThrow(/line 2/);
    expect(() => parseJournal(`${enrol(2)}\n${enrol(1)}\n`)).toThrow(/seq 1 after 2/);
  });

  it('cuts off a torn tail before the next append, so the journal stays readable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'journal-'));
    const path = join(dir, 'journal.jsonl');
    await writeFile(path, `${enrol(1)}\n${enrol(2).slice(0, 15)}`);
    expect(await appendLineDurable(path, enrol(2))).toEqual({ created: false, repaired: true });
    const text = await readFile(path, 'utf8');
    expect(text).toBe(`${enrol(1)}\n${enrol(2)}\n`);
    expect(parseJournal(text).lastSeq).toBe(2);
    // A journal that is only a fragment is cut to nothing.
    await writeFile(path, enrol(1).slice(0, 10));
    await appendLineDurable(path, enrol(1));
    expect(await readFile(path, 'utf8')).toBe(`${enrol(1)}\n`);
    await expect(appendLineDurable(path, 'a\nb')).rejects.toThrow(RangeError);
  });

  it('reads a missing journal as empty', async () => {
    expect(await readJournal('/nonexistent/journal.jsonl')).toEqual({ records: [], lastSeq: 0, tornTail: false });
  });
});
