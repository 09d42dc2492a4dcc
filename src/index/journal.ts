/**
 * The gallery store's journal: an append-only JSON Lines file of enrolments and deletions, each
 * record fsynced before the call that wrote it returns. Replaying it (store.ts) gives the API's
 * changes to the gallery; the folder gives the rest.
 *
 * A crash mid-append can leave a torn last line: reading ignores it (its caller never got a
 * success), and the next append cuts it off first (durable.ts). A bad line anywhere else is
 * corruption and is refused.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { IndexError } from './errors.js';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const EnrolRecordSchema = z.object({
  seq: z.number().int().positive(),
  at: z.string(),
  op: z.literal('enrol'),
  identity: z.string().min(1),
  /** Images enrolled, each stored as blobs/<sha256>. */
  images: z.array(z.object({ sha256, size: z.number().int().nonnegative() })).min(1),
});

export const DeleteRecordSchema = z.object({
  seq: z.number().int().positive(),
  at: z.string(),
  op: z.literal('delete'),
  identity: z.string().min(1),
  /** The identity's folder images present at the time of the deletion (they stay hidden while unchanged). */
  folder: z.array(z.object({ source: z.string().min(1), sha256 })),
});

export const JournalRecordSchema = z.discriminatedUnion('op', [EnrolRecordSchema, DeleteRecordSchema]);
export type EnrolRecord = z.infer<typeof EnrolRecordSchema>;
export type DeleteRecord = z.infer<typeof DeleteRecordSchema>;
export type JournalRecord = z.infer<typeof JournalRecordSchema>;

export interface JournalContents {
  records: JournalRecord[];
  /** Highest sequence number (0 for an empty or missing journal). */
  lastSeq: number;
  /** True if a torn last line was ignored. */
  tornTail: boolean;
}

/**
 * Parses journal text. Records must have strictly increasing `seq`.
 *
 * @example
 * parseJournal('{"seq":1,"at":"…","op":"delete","identity":"bob","folder":[]}\n').lastSeq // 1
 */
export function parseJournal(text: string, where = 'journal'): JournalContents {
  const lines = text.split('\n');
  const endsClean = text.length === 0 || text.endsWith('\n');
  const records: JournalRecord[] = [];
  let tornTail = false;
  let lastSeq = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const isLast = i === lines.length - 1;
    let record: JournalRecord;
    try {
      record = JournalRecordSchema.parse(JSON.parse(line));
    } catch (error) {
      if (isLast && !endsClean) {
        tornTail = true;
        break;
      }
      throw new IndexError('STORE', `${where}: line ${i + 1} is not a valid record`, { cause: error });
    }
    if (record.seq <= lastSeq) throw new IndexError('STORE', `${where}: line ${i + 1} has seq ${record.seq} after ${lastSeq}`);
    lastSeq = record.seq;
    records.push(record);
  }
  return { records, lastSeq, tornTail };
}

/** Reads and parses a journal file; a missing file is an empty journal. */
export async function readJournal(path: string): Promise<JournalContents> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], lastSeq: 0, tornTail: false };
    throw new IndexError('STORE', `cannot read ${path}`, { cause: error });
  }
  return parseJournal(text, path);
}
