import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { describeBackend } from './backend.js';

describe('describeBackend', () => {
  it('says calmly that the optional tfjs-node is absent, and names a real failure as one', () => {
    const absent = { name: 'tensorflow' as const, reason: "Cannot find package '@tensorflow/tfjs-node' imported from /x/backend.ts" };
    expect(describeBackend({ name: 'wasm', skipped: [absent] })).toBe('tfjs backend: wasm (WebAssembly, one core per thread); the optional @tensorflow/tfjs-node is not installed');
    const broken = { name: 'tensorflow' as const, reason: 'libtensorflow.so.2: cannot open shared object file' };
    expect(describeBackend({ name: 'wasm', skipped: [broken] })).toMatch(/tensorflow could not start: libtensorflow\.so\.2/);
    expect(describeBackend({ name: 'cpu', skipped: [] })).toBe('tfjs backend: cpu (plain JavaScript, the slowest)');
  });
});

describe('initBackend', () => {
  it('prints one calm line on a machine without tfjs-node, and no tfjs banner', () => {
    const script = "const { initBackend } = await import('./src/model/backend.ts'); const tf = await import('@tensorflow/tfjs'); await initBackend(); await tf.setBackend('cpu'); tf.tensor([1, 2]).dataSync();";
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(0);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[twinsearch\] tfjs backend: (tensorflow|wasm|cpu) \(/);
    expect(run.stderr).not.toMatch(/Cannot find package|Hi, looks like/);
  });
});
