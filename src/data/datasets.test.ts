import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { datasetsDir, REPO_ROOT } from './datasets.js';

describe('datasetsDir', () => {
  it('defaults to ../shared/datasets beside the repo root', () => {
    expect(existsSync(join(REPO_ROOT, 'package.json'))).toBe(true);
    expect(datasetsDir({})).toBe(resolve(REPO_ROOT, '..', 'shared', 'datasets'));
  });

  it('honours TWINSEARCH_DATASETS, resolving relative paths', () => {
    expect(datasetsDir({ TWINSEARCH_DATASETS: '/data/sets' })).toBe('/data/sets');
    expect(datasetsDir({ TWINSEARCH_DATASETS: 'rel/sets' })).toBe(resolve('rel/sets'));
    expect(datasetsDir({ TWINSEARCH_DATASETS: '' })).toBe(resolve(REPO_ROOT, '..', 'shared', 'datasets'));
  });
});
