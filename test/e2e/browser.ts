/**
 * Headless Chromium for end-to-end tests: Debian's `/usr/bin/chromium` driven by playwright-core
 * (`npx playwright install` cannot download browsers here, and CI installs the apt package).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser; `CHROMIUM_PATH` overrides it. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Flags for a sandboxed, offline CI machine: run as root without the setuid sandbox, no GPU,
 * and none of Chromium's own network traffic (update checks, sync, QUIC probes), which this
 * machine's closed network would refuse many times over.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** True when the browser binary is installed (the e2e tests skip, saying why, when it is not). */
export function chromiumInstalled(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/**
 * Launches Chromium with a fresh, throwaway profile.
 *
 * @example
 * const browser = await launchChromium();
 * try { const page = await browser.newPage(); await page.goto(url); } finally { await browser.close(); }
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: 60_000 });
}
