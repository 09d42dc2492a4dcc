import { describe, expect, it } from 'vitest';
import { startWorker, workerEntryFile } from './worker.js';

describe('worker entries', () => {
  it('name the .ts source when run from the sources and the emitted .js in the build', () => {
    const entry = new URL('file:///app/src/embedding/worker.js');
    expect(workerEntryFile(entry, true).href).toBe('file:///app/src/embedding/worker.ts');
    expect(workerEntryFile(entry, false).href).toBe('file:///app/src/embedding/worker.js');
    expect(() => workerEntryFile(new URL('file:///app/worker.ts'), false)).toThrow(/with \.js/);
  });

  it('start a TypeScript entry from the sources and hand it its data', async () => {
    const worker = startWorker(new URL('./worker.fixture.js', import.meta.url), { echo: 41 });
    const reply = await new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
    await worker.terminate();
    expect(reply).toEqual({ echo: 42 });
  });
});
