import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { browserTests, launchChromium, openPage, testOutputDir, type WatchedPage } from './browser.js';
import { gatedStream } from './gated-stream.js';

/**
 * The playground against an upstream the test drives chunk by chunk: tokens must show up as each
 * event arrives (not at the end), and Stop must reach the upstream connection.
 */

let browser: Browser;
let stubbed: StubbedApp;

beforeAll(async () => {
  [browser, stubbed] = await Promise.all([launchChromium(), startStubbedApp()]);
  stubbed.stub.on('GET', '/models', reply.models('stub-model'));
});

afterAll(async () => {
  await browser?.close();
  if (stubbed) await stopStubbedApp(stubbed);
});

async function openPlayground(): Promise<WatchedPage> {
  const watched = await openPage(browser);
  await watched.page.goto(`${stubbed.app.origin}/playground`);
  await expect.poll(() => watched.page.locator('#model').inputValue()).toBe('stub-model');
  // Shading needs logprobs, which this stub does not send; plain pieces are what is counted here.
  await watched.page.getByLabel('Log probabilities', { exact: true }).fill('');
  return watched;
}

describe('playground streaming (stub upstream, one chunk at a time)', browserTests, () => {
  it('renders each token as its event arrives, then the usage and timings', async () => {
    const { page, problems, context } = await openPlayground();
    const stream = gatedStream();
    stubbed.stub.on('POST', '/completions', stream.handler);
    await page.getByRole('button', { name: 'Run' }).click();
    await stream.opened;
    const pieces = page.locator('.choice .tokens > *');
    const words = ['It', ' was', ' the', ' best', ' of'];
    for (const [i, word] of words.entries()) {
      stream.send(word);
      // The page shows exactly the tokens sent so far: it grows with every event.
      await expect.poll(() => pieces.count()).toBe(i + 1);
      expect(await page.locator('.choice .tokens').textContent()).toBe(words.slice(0, i + 1).join(''));
      expect(await page.locator('[data-stat="state"]').textContent()).toBe('running');
    }
    expect(await page.locator('[data-stat="ttft"]').textContent()).toMatch(/^\d+ ms$|^\d+\.\d\d s$/);
    stream.finish({ prompt: 7, completion: 5 });
    await expect.poll(() => page.locator('[data-stat="state"]').textContent()).toBe('complete');
    expect(await page.locator('[data-stat="usage"]').textContent()).toBe('7 + 5 = 12');
    expect(await page.locator('.finish').textContent()).toBe('Finished: LENGTH');
    expect(await page.locator('[data-stat="rate"]').textContent()).toMatch(/^\d+(\.\d)?$/);
    expect(await page.locator('#status').textContent()).toMatch(/^Done\. Run: 5 tokens in /);
    // What the service sent upstream is what the page shows it sent.
    const sent = JSON.parse((await page.locator('pre[data-copy="variables-Run"]').textContent()) ?? '');
    const upstream = stubbed.stub.requests.filter((r) => r.path === '/completions').at(-1)?.json as {
      prompt: string;
      stream: boolean;
      max_tokens: number;
    };
    expect(upstream).toMatchObject({ prompt: sent.input.prompt.text, stream: true, max_tokens: 64 });
    await page.screenshot({ path: join(testOutputDir, 'playground-stream.png'), fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });

  it('labels every control, and shows an upstream failure with its code', async () => {
    const { page, problems, context } = await openPlayground();
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll<HTMLElement>('input, select, textarea, button')]
        .filter((el) => {
          const labels = (el as HTMLInputElement).labels;
          const named =
            (labels && labels.length > 0) || el.getAttribute('aria-label') || el.textContent?.trim();
          return !named;
        })
        .map((el) => el.outerHTML),
    );
    expect(unlabelled).toEqual([]);
    stubbed.stub.on(
      'POST',
      '/completions',
      reply.json(503, { error: { message: 'overloaded', type: 'server_error', param: null, code: null } }),
    );
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.locator('[data-stat="state"]').textContent()).toBe('failed');
    expect(await page.locator('.run .run-errors code').textContent()).toBe('UPSTREAM_UNAVAILABLE');
    expect(await page.locator('#run-error').textContent()).toMatch(/^Run: UPSTREAM_UNAVAILABLE: /);
    expect(await page.locator('#status').textContent()).toMatch(/^Failed\. Run: failed in /);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('Stop closes the upstream request at once and says so', async () => {
    const { page, problems, context } = await openPlayground();
    const stream = gatedStream();
    stubbed.stub.on('POST', '/completions', stream.handler);
    const closedBefore = stubbed.stub.closedConnections;
    await page.getByRole('button', { name: 'Run' }).click();
    await stream.opened;
    stream.send('Call');
    await expect.poll(() => page.locator('.choice .tokens > *').count()).toBe(1);
    const stop = page.getByRole('button', { name: 'Stop' });
    expect(await stop.isEnabled()).toBe(true);
    await stop.click();
    // The upstream sees its connection closed while it still had more to send.
    await stream.cut;
    expect(stubbed.stub.closedConnections).toBe(closedBefore + 1);
    await expect.poll(() => page.locator('[data-stat="state"]').textContent()).toBe('stopped');
    expect(await page.locator('#status').textContent()).toMatch(/^Stopped\. Run: stopped in /);
    expect(await page.getByRole('button', { name: 'Run' }).isEnabled()).toBe(true);
    expect(await stop.isDisabled()).toBe(true);
    // Focus went back to Run, not to the page.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('run');
    expect(problems).toEqual([]);
    await context.close();
  });
});
