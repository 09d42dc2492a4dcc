/**
 * The demo page end to end: the real server (the wrangler-compatible Node adapter serving
 * functions/worker.ts, as `npm start` does) on an ephemeral loopback port over a tiny real model
 * and index, driven in Debian's headless Chromium. Screenshots go to the temp folder (or $DEMO_SCREENSHOTS) as demo-*.png.
 *
 * Skipped, saying so, only when /usr/bin/chromium is missing (`.ci/run` installs it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNodeAdapter, type NodeAdapter } from '../../src/api/node/index.js';
import { silentLogger } from '../../src/api/log.js';
import { CHROMIUM_PATH, chromiumInstalled, launchChromium } from './browser.js';
import { buildServingFixture, IDENTITIES, identityPng, type GalleryImage, type ServingFixture } from './fixture.js';
import { writeTinyModel } from '../fixtures/gallery.js';

const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const READ_KEY = 'e2e-read-key-0123456789abcdef';
/** Where screenshots go (`DEMO_SCREENSHOTS=docs/images` refreshes the ones in the docs). */
const SCREENSHOTS = process.env.DEMO_SCREENSHOTS ?? tmpdir();

const haveChromium = chromiumInstalled();
if (!haveChromium) {
  console.warn(`[e2e] SKIPPED: ${CHROMIUM_PATH} is not installed, so the demo page cannot be tested (apt-get install chromium; .ci/run installs it).`);
}

/** A file for `setInputFiles`: the bytes of a gallery image under a neutral name. */
const upload = (image: Pick<GalleryImage, 'bytes'>, name: string) => ({ name, mimeType: 'image/png', buffer: image.bytes });

describe.skipIf(!haveChromium)(`demo page in headless Chromium (${CHROMIUM_PATH})`, () => {
  let dir: string;
  let fx: ServingFixture;
  let server: NodeAdapter;
  let browser: Browser;
  let page: Page;
  let threshold: number;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-demo-'));
    fx = await buildServingFixture(dir);
    threshold = fx.card.thresholds.default;
    server = await startNodeAdapter({
      configPath: join(REPO, 'wrangler.toml'),
      host: '127.0.0.1',
      port: 0,
      crons: false,
      log: silentLogger,
      // Only these keys: the test must not pick up the developer's environment.
      overrides: {
        MODEL_DIR: fx.modelDir,
        INDEX_DIR: fx.indexDir,
        GALLERY_DIR: fx.galleryDir,
        API_KEYS: READ_KEY,
        EMBED_WORKERS: '0',
        WATCH_INDEX: 'false',
        RELOAD_POLL_MS: '0',
        LOG_LEVEL: 'silent',
      },
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // 4xx answers are logged by Chromium as failed resources; they are part of the tests.
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('has a fixture whose distances fall on the expected sides of the threshold', () => {
    // The tower is random: these are measured, not assumed (see fixture.ts).
    expect(fx.samePair.a.identity).toBe(fx.samePair.b.identity);
    expect(fx.samePair.distance).toBeLessThanOrEqual(threshold);
    expect(fx.differentPair.a.identity).not.toBe(fx.differentPair.b.identity);
    expect(fx.differentPair.distance).toBeGreaterThan(threshold);
  });

  it('serves the page, explains a 401 without a key, and shows model and index once the key is saved', async () => {
    await page.goto(`${server.url}/`);
    await expect.poll(() => page.textContent('#status-index')).toBe('needs API key');

    await page.setInputFiles('#search-file', upload(fx.query, 'query.png'));
    const error = page.locator('#search-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toContain('401 · UNAUTHORIZED');
    expect(await error.textContent()).toContain('needs an API key');
    expect(await page.locator('#key-box').getAttribute('open')).not.toBeNull();

    await page.fill('#api-key', READ_KEY);
    await page.click('#key-form button[type=submit]');
    await expect.poll(() => page.textContent('#status-model')).toBe(fx.card.modelId);
    expect(await page.textContent('#status-index')).toBe(fx.indexVersion);
    expect(await page.textContent('#status-counts')).toBe(`${IDENTITIES.length} identities · ${fx.images.length} images`);
    expect(await page.evaluate(() => localStorage.getItem('twinsearch.apiKey'))).toBe(READ_KEY);
  });

  it('search: a known gallery image shows its identity with a MATCH verdict and the gallery thumbnail', async () => {
    // The search refused for want of a key was repeated when the key was saved.
    const verdict = page.locator('#search-verdict');
    await verdict.waitFor({ state: 'visible' });
    await expect.poll(() => verdict.getAttribute('data-kind')).toBe('match');
    expect(await page.textContent('#search-verdict-badge')).toBe('MATCH');
    expect(await page.textContent('#search-verdict-title')).toBe(fx.query.identity);
    expect(await page.textContent('#search-verdict-detail')).toMatch(new RegExp(`^Distance 0\\.000 ≤ threshold ${threshold.toFixed(3)}`));

    const cards = page.locator('#search-matches > li');
    expect(await cards.count()).toBe(5); // DEFAULT_K in wrangler.toml
    expect(await cards.first().locator('.match-identity').textContent()).toBe(fx.query.identity);
    expect(await cards.first().getAttribute('data-match')).toBe('true');
    // Identity-level results: each identity once.
    const identities = await cards.locator('.match-identity').allTextContents();
    expect(new Set(identities).size).toBe(identities.length);
    // The thumbnail came from the gallery endpoint, fetched with the key (the endpoint needs it).
    await expect.poll(() => cards.first().locator('img').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);

    expect(await page.textContent('#search-live')).toContain(`Match: ${fx.query.identity}`);
    expect(await page.textContent('#search-meta')).toMatch(/decode [\d.]+ ms · embed [\d.]+ ms · search [\d.]+ ms · total [\d.]+ ms/);
    expect(await page.textContent('#calibrated-threshold')).toContain(threshold.toFixed(3));
    // The open-set rates come with the threshold, and a calibration on too few people is flagged where it cannot be missed.
    expect(await page.textContent('#calibrated-threshold')).toContain('strangers matched 0.0% of 9, known people found 100.0%');
    expect(await page.locator('#threshold-warning').isVisible()).toBe(true);
    expect(await page.textContent('#threshold-warning')).toBe(`Warning: ${fx.card.thresholds.openSet!.warning}`);
    // MATCH is the decided identity's alone; the others show their distance against the threshold.
    expect(await cards.locator('.match-pill').first().textContent()).toBe('MATCH');
    for (const pill of (await cards.locator('.match-pill').allTextContents()).slice(1)) expect(pill).toMatch(/^\d\.\d{3} (≤|>) \d\.\d{3}$/);
    expect(await cards.nth(1).getAttribute('data-match')).toBe('false');
    // The bar grows as the match gets better: the match's is the fullest and reaches past the threshold tick.
    const widths = await cards.locator('.bar-fill').evaluateAll((bars) => bars.map((b) => b.getBoundingClientRect().width));
    expect(widths[0]).toBe(Math.max(...widths));
    expect(widths[0]).toBeGreaterThan(widths.at(-1)!);
    const tick = await cards.first().locator('.bar-threshold').evaluate((t) => t.getBoundingClientRect().left - t.parentElement!.getBoundingClientRect().left);
    expect(widths[0]).toBeGreaterThan(tick);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-search.png'), fullPage: true });
  });

  it('search: k and a custom threshold are sent, and an image beyond the threshold is UNKNOWN', async () => {
    await page.fill('#search-k', '3');
    await page.check('#search-threshold-on');
    await page.fill('#search-threshold', '0.0001');
    // A new drawing of an enrolled shape: close to the gallery, but not at distance zero.
    await page.setInputFiles('#search-file', upload({ bytes: await identityPng(0, 99) }, 'new-drawing.png'));
    const verdict = page.locator('#search-verdict');
    await expect.poll(() => verdict.getAttribute('data-kind')).toBe('unknown');
    expect(await page.textContent('#search-verdict-badge')).toBe('UNKNOWN');
    expect(await page.textContent('#search-verdict-detail')).toContain('custom');
    expect(await page.locator('#search-matches > li').count()).toBe(3);
    expect(await page.locator('#search-matches > li[data-match="true"]').count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-search-unknown.png'), fullPage: true });
    await page.uncheck('#search-threshold-on');
    await page.fill('#search-k', '5');
  });

  it('search: a file that is not an image gets a friendly error with its code', async () => {
    await page.setInputFiles('#search-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image at all') });
    const error = page.locator('#search-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toMatch(/415 · UNSUPPORTED_IMAGE/);
    expect(await page.locator('#search-verdict').isHidden()).toBe(true);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-error.png') });
  });

  it('tabs work from the keyboard', async () => {
    await page.focus('#tab-search');
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#tab-verify', 'aria-selected')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-verify');
    expect(await page.locator('#panel-verify').isVisible()).toBe(true);
    expect(await page.locator('#panel-search').isHidden()).toBe(true);
  });

  it('verify: two images of one identity are "same", two identities "different"', async () => {
    const { samePair, differentPair } = fx;
    await page.setInputFiles('#verify-file-a', upload(samePair.a, 'a.png'));
    await page.setInputFiles('#verify-file-b', upload(samePair.b, 'b.png'));
    const verdict = page.locator('#verify-verdict');
    await expect.poll(() => verdict.getAttribute('data-kind')).toBe('same');
    expect(await page.textContent('#verify-verdict-badge')).toBe('SAME');
    expect(await page.textContent('#verify-verdict-title')).toBe('Same identity');
    // The server's distance agrees with the one the fixture measured with its own embedder.
    expect(await page.textContent('#verify-verdict-detail')).toContain(`Distance ${samePair.distance.toFixed(3)} ≤ threshold ${threshold.toFixed(3)}`);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-verify.png'), fullPage: true });

    await page.setInputFiles('#verify-file-a', upload(differentPair.a, 'c.png'));
    await page.setInputFiles('#verify-file-b', upload(differentPair.b, 'd.png'));
    // Changing A alone already compares (new A, old B): wait for the answer about the new pair.
    await expect.poll(() => page.textContent('#verify-verdict-detail')).toContain(`Distance ${differentPair.distance.toFixed(3)} > threshold ${threshold.toFixed(3)}`);
    expect(await verdict.getAttribute('data-kind')).toBe('different');
    expect(await page.textContent('#verify-verdict-badge')).toBe('DIFFERENT');
    expect(await page.textContent('#verify-verdict-title')).toBe('Different identities');
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-verify-different.png'), fullPage: true });
  });

  it('fits a phone-sized screen without sideways scrolling, in light and dark mode', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-phone-verify.png'), fullPage: true });
    await page.click('#tab-search');
    await page.setInputFiles('#search-file', upload(fx.query, 'query.png'));
    await expect.poll(() => page.getAttribute('#search-verdict', 'data-kind')).toBe('match');
    expect(await overflow()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-phone-search.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-dark-search.png'), fullPage: true });
  });

  it('raised no script errors', () => {
    expect(pageErrors).toEqual([]);
  });
});

describe.skipIf(!haveChromium)('demo page when the server cannot search: each cause in words, with its fix', () => {
  let dir: string;
  let fx: ServingFixture;
  let browser: Browser;
  const servers: NodeAdapter[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'e2e-not-ready-'));
    fx = await buildServingFixture(dir);
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(servers.map((s) => s.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Serves `modelDir` over `indexDir` (no keys, loopback) and opens the page. One server at a time: a process serves one configuration. */
  async function open(modelDir: string, indexDir: string): Promise<Page> {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    const server = await startNodeAdapter({
      configPath: join(REPO, 'wrangler.toml'),
      host: '127.0.0.1',
      port: 0,
      crons: false,
      log: silentLogger,
      overrides: { MODEL_DIR: modelDir, INDEX_DIR: indexDir, GALLERY_DIR: fx.galleryDir, EMBED_WORKERS: '0', WATCH_INDEX: 'false', RELOAD_POLL_MS: '0', LOG_LEVEL: 'silent' },
    });
    servers.push(server);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${server.url}/`);
    return page;
  }

  it('no index yet: says so and gives the command that builds it', async () => {
    const indexDir = join(dir, 'index-empty');
    const page = await open(fx.modelDir, indexDir);
    const problem = page.locator('#status-problem');
    await problem.waitFor({ state: 'visible' });
    expect(await page.textContent('#status-problem-title')).toBe('No index yet');
    expect(await page.textContent('#status-problem-fix')).toBe(`npm run index -- --model ${fx.modelDir} --gallery ${fx.galleryDir} --out ${indexDir}`);
    expect(await page.textContent('#status-model')).toBe(fx.card.modelId);
    expect(await page.textContent('#status-index')).toBe('none yet');
    await page.setInputFiles('#search-file', upload(fx.query, 'query.png'));
    const error = page.locator('#search-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toContain('503 · NOT_READY');
    expect(await error.textContent()).toContain('npm run index -- --model');
    expect(await error.textContent()).not.toContain('Try again in a moment');
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-not-ready-no-index.png'), fullPage: true });
  });

  it("another model's index: names both models and the command that builds this model's", async () => {
    const other = join(dir, 'other-model');
    const card = await writeTinyModel(other, { seed: 11, name: 'other' });
    const page = await open(other, fx.indexDir);
    await page.locator('#status-problem').waitFor({ state: 'visible' });
    expect(await page.textContent('#status-problem-title')).toBe('The index belongs to another model');
    const message = await page.textContent('#status-problem-message');
    expect(message).toContain(fx.card.modelId);
    expect(message).toContain(card.modelId);
    expect(await page.textContent('#status-problem-fix')).toBe(`npm run index -- --model ${other} --gallery ${fx.galleryDir} --out ${fx.indexDir}`);
    expect(await page.textContent('#status-model')).toBe(card.modelId);
    await page.screenshot({ path: join(SCREENSHOTS, 'demo-not-ready-other-model.png'), fullPage: true });
  });
});
