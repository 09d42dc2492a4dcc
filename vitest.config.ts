import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { againstBuild } from './test/fixtures/against-build.js';

/** Tests that need a Postgres server (the `pgvector` project starts one). */
const PG_ONLY = ['src/index/pgvector/**/*.test.ts', 'test/pgvector-*.test.ts'];
/** Tests that need an S3-compatible server (the `s3` project starts one). */
const S3_ONLY = ['src/storage/**/*.test.ts', 'test/s3-*.test.ts'];
/** The API suite, run once more against the pgvector store (fixtures read TWINSEARCH_TEST_STORE). */
const API_SUITE = ['src/api/app.test.ts', 'test/api-node.test.ts', 'test/api-functions.test.ts'];

export default defineConfig({
  test: {
    // tfjs keeps one global engine per process: isolate test files in forks.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: more workers only fight over them.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'local', include: ['src/**/*.test.ts', 'test/**/*.test.ts'], exclude: [...PG_ONLY, ...S3_ONLY] } },
      { extends: true, test: { name: 's3', include: S3_ONLY, globalSetup: ['test/fixtures/s3-setup.ts'] } },
      {
        // The API suite once more against the build in dist/ (what is deployed), not the sources.
        extends: true,
        plugins: [againstBuild(fileURLToPath(new URL('.', import.meta.url)))],
        test: { name: 'build', include: API_SUITE, globalSetup: ['test/fixtures/build-setup.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'pgvector',
          include: [...PG_ONLY, ...API_SUITE],
          env: { TWINSEARCH_TEST_STORE: 'pgvector' },
          globalSetup: ['test/fixtures/pglite-setup.ts'],
        },
      },
    ],
  },
});
