import { describe, expect, it } from 'vitest';
import { authEnabled, ConfigError, parseApiConfig } from './index.js';

describe('parseApiConfig', () => {
  it('has defaults matching npm start, resolved against baseDir', () => {
    const c = parseApiConfig({}, { baseDir: '/srv/ts', cores: 2 });
    expect(c).toMatchObject({
      modelDir: '/srv/ts/models/sample',
      indexDir: '/srv/ts/index/sample',
      galleryDir: '/srv/ts/data/sample-digits',
      storeDir: undefined,
      defaultK: 5,
      maxImageBytes: 5 * 1024 * 1024,
      maxInputPixels: 4096 * 4096,
      readKeys: [],
      adminKeys: [],
      embedWorkers: 1,
      watchIndex: true,
    });
    expect(authEnabled(c)).toBe(false);
    // Each model its own index folder, unless INDEX_DIR says otherwise.
    expect(parseApiConfig({ MODEL_DIR: '/m/faces' }, { baseDir: '/srv/ts' }).indexDir).toBe('/srv/ts/index/faces');
    expect(parseApiConfig({ MODEL_DIR: '/m/faces', INDEX_DIR: 'shared' }, { baseDir: '/srv/ts' }).indexDir).toBe('/srv/ts/shared');
    expect(parseApiConfig({}, { cores: 1 }).embedWorkers).toBe(0);
    expect(parseApiConfig({}, { cores: 8 }).embedWorkers).toBe(7);
  });

  it('parses strings, numbers, lists and booleans the way wrangler vars and env give them', () => {
    const c = parseApiConfig(
      { MODEL_DIR: '/abs/model', DEFAULT_K: 12, API_KEYS: ' r-0123456789abcdef , r2-0123456789abcdef ', ADMIN_KEYS: ['a-0123456789abcdef'], EMBED_WORKERS: '0', WATCH_INDEX: 'false', TARGET_FAR: '0.01', STORE_DIR: 'store', INDEX_EF: '', OTHER: 'ignored' },
      { baseDir: '/b' },
    );
    expect(c).toMatchObject({ modelDir: '/abs/model', defaultK: 12, readKeys: ['r-0123456789abcdef', 'r2-0123456789abcdef'], adminKeys: ['a-0123456789abcdef'], embedWorkers: 0, watchIndex: false, targetFar: 0.01, storeDir: '/b/store', indexEf: undefined });
    expect(authEnabled(c)).toBe(true);
  });

  it('names every bad key, and refuses short API keys', () => {
    expect(() => parseApiConfig({ DEFAULT_K: '0', MAX_IMAGE_BYTES: 'lots', TARGET_FAR: '2' })).toThrow(/DEFAULT_K[\s\S]*MAX_IMAGE_BYTES[\s\S]*TARGET_FAR/);
    expect(() => parseApiConfig({ API_KEYS: 'short' })).toThrow(ConfigError);
    expect(() => parseApiConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });
});
