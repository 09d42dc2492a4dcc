import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWranglerConfig, readWranglerEnv } from './wrangler-config.js';

describe('wrangler config', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wrangler-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('merges [vars] and .dev.vars as wrangler dev does; the environment overrides; paths resolve against the file', async () => {
    const config = join(dir, 'wrangler.toml');
    await writeFile(config, ['name = "t"', 'main = "functions/worker.ts"', '[vars]', 'MODEL_DIR = "models/m"', 'GALLERY_DIR = "s3://b/g"', 'DEFAULT_K = "5"', '[triggers]', 'crons = ["0 3 * * *"]', ''].join('\n'));
    await writeFile(join(dir, '.dev.vars'), 'API_KEYS="read-key-0123456789abcdef"\n# a comment\nDEFAULT_K=7\n');
    const { main, crons, env } = await readWranglerEnv(config, { LOG_LEVEL: 'debug', NOT_A_CONFIG_KEY: 'x' });
    expect(main).toBe(join(dir, 'functions/worker.ts'));
    expect(crons).toEqual(['0 3 * * *']);
    expect(env).toMatchObject({ MODEL_DIR: join(dir, 'models/m'), INDEX_DIR: join(dir, 'index/m'), GALLERY_DIR: 's3://b/g', DEFAULT_K: '7', API_KEYS: 'read-key-0123456789abcdef', LOG_LEVEL: 'debug' });
    expect(env).not.toHaveProperty('NOT_A_CONFIG_KEY');
  });

  it('says which file is wrong and why', async () => {
    const config = join(dir, 'bad.toml');
    await writeFile(config, 'main = "w.ts"\n[triggers]\ncrons = "0 3 * * *"\n');
    await expect(readWranglerEnv(config, {})).rejects.toThrow(`cannot read ${config}: [triggers] crons must be a list`);
    expect(() => parseWranglerConfig('vars = [1', 'x.toml')).toThrow();
    await expect(readWranglerEnv(join(dir, 'absent.toml'), {})).rejects.toThrow(/ENOENT/);
  });
});
