import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/**
 * Headless Chromium from the Debian package, driven by playwright-core (its own browser download
 * cannot be reached). The flags keep Chromium from calling home: without them it retries Google's
 * services against a closed network for the whole run. Playwright gives each launch a fresh,
 * temporary user-data-dir.
 */

export const chromiumPath = '/usr/bin/chromium';

/** Screenshots for review; git-ignored. */
export const testOutputDir = join(import.meta.dirname, '..', '..', 'test-output');

/**
 * Options for a browser test's describe: a cold browser draws Monaco in ~6 s alone and three times
 * that beside the rest of the suite on two cores, so a wider net than the suite's 20 s keeps a
 * slow machine from being read as a hang (each wait inside still fails on its own at 30 s).
 */
export const browserTests = { timeout: 60_000 } as const;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `The browser tests need Chromium at ${chromiumPath}: apt-get install -y chromium (.ci/run does it).`,
    );
  }
  await mkdir(testOutputDir, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors, uncaught exceptions and failed requests, as text. */
  problems: string[];
  /** Every URL the page asked for: all must be this server's (or blob:/data:). */
  requested: string[];
}

/** A page in its own context (its own storage), with everything that went wrong recorded. */
export async function openPage(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  const requested: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('request', (request) => requested.push(request.url()));
  page.on('requestfailed', (request) => {
    // A stream the page stopped on purpose is aborted by design.
    if (request.failure()?.errorText !== 'net::ERR_ABORTED') {
      problems.push(`requestfailed: ${request.url()} ${request.failure()?.errorText}`);
    }
  });
  context.on('weberror', (error) => problems.push(`weberror: ${error.error().message}`));
  return { page, context, problems, requested };
}

/** Requests that left the server under test (a CDN, a font, Google): there must be none. */
export function foreignRequests(requested: readonly string[], origin: string): string[] {
  return requested.filter(
    (url) => !url.startsWith(`${origin}/`) && !url.startsWith('blob:') && !url.startsWith('data:'),
  );
}
