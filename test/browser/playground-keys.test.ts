import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientAuthenticator, hashToken } from '../../src/auth/client-keys.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { localProvider } from '../local/shared-provider.js';
import { browserTests, launchChromium, openPage } from './browser.js';

/** The playground in front of a server with client keys: the key field, its storage, and where it never goes. */

const model = 'local-ngram-moby-dick';
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe('playground with client keys', browserTests, () => {
  const key = 'playground-test-key-0123456789';
  let keyed: TestApp;

  beforeAll(async () => {
    keyed = await startTestApp({
      provider: await localProvider(),
      app: { authenticator: new ClientAuthenticator([{ name: 'browser', sha256: hashToken(key) }]) },
    });
  });

  afterAll(async () => {
    await keyed?.close();
  });

  it('asks for a key, keeps it in sessionStorage only, and never writes it into the page', async () => {
    const { page, problems, context } = await openPage(browser);
    await page.goto(`${keyed.origin}/playground`);
    const modelError = page.locator('#model-error');
    await modelError.waitFor({ state: 'visible' });
    expect(await modelError.textContent()).toMatch(/^UNAUTHENTICATED: .* Enter a client key below\.$/);

    const field = page.getByLabel('Key (Authorization: Bearer)');
    expect(await field.getAttribute('type')).toBe('password');
    await field.fill(key);
    await field.press('Tab');
    await expect.poll(() => page.locator('#model').inputValue()).toBe(model);
    expect(await modelError.isHidden()).toBe(true);
    const storage = await page.evaluate(() => ({
      session: { ...sessionStorage },
      local: { ...localStorage },
      cookie: document.cookie,
    }));
    expect(storage).toEqual({ session: { 'completions-playground.client-key': key }, local: {}, cookie: '' });

    await page.getByLabel('Maximum tokens').fill('4');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.locator('#runs').getAttribute('data-done')).toBe('1');
    expect(await page.locator('[data-stat="state"]').textContent()).toBe('complete');
    const curl = await page.locator('pre[data-copy="curl-Run"]').textContent();
    expect(curl).toContain('-H "authorization: Bearer $CLIENT_KEY"');
    expect(await page.locator('body').textContent()).not.toContain(key);

    // The same tab keeps it across a reload; another tab (a new session) does not have it.
    await page.reload();
    expect(await page.getByLabel('Key (Authorization: Bearer)').inputValue()).toBe(key);
    const other = await openPage(browser);
    await other.page.goto(`${keyed.origin}/playground`);
    await other.page.locator('#model-error').waitFor({ state: 'visible' });
    expect(await other.page.getByLabel('Key (Authorization: Bearer)').inputValue()).toBe('');
    await other.context.close();

    await page.getByRole('button', { name: 'Forget the key' }).click();
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    // Chromium reports the refused model list (401) itself; nothing else may go wrong.
    expect(problems.filter((p) => !p.includes('status of 401'))).toEqual([]);
    await context.close();
  });
});
