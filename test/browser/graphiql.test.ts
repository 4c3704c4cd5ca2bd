import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { localProvider } from '../local/shared-provider.js';
import { foreignRequests, launchChromium, openPage, testOutputDir } from './browser.js';

/** GraphiQL with no network: every file from this server, the default query run on the local engine. */

const model = 'local-ngram-moby-dick';
let browser: Browser;
let app: TestApp;

beforeAll(async () => {
  [browser, app] = await Promise.all([
    launchChromium(),
    localProvider().then((provider) => startTestApp({ provider, app: { exampleModel: model } })),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('GraphiQL in a browser, offline', () => {
  it('renders the editor from local files and runs the default query on the local engine', async () => {
    const { page, problems, requested, context } = await openPage(browser);
    const response = await page.goto(`${app.origin}/graphql`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    const editor = page.locator('.graphiql-query-editor .view-lines');
    await editor.filter({ hasText: 'mutation Complete' }).waitFor();
    // The default query names the playground and a model this server really serves.
    const query = ((await editor.textContent()) ?? '').replace(/\u00a0/g, ' ');
    expect(query).toContain('/playground');
    expect(query).toContain(`model: "${model}"`);

    await page.getByRole('button', { name: 'Execute query (Ctrl-Enter)' }).click();
    const result = page.locator('.graphiql-response .view-lines');
    await result.filter({ hasText: '"finishReason"' }).waitFor();
    // Monaco draws spaces as no-break spaces.
    const shown = ((await result.textContent()) ?? '').replace(/\u00a0/g, ' ');
    expect(shown).toContain(`"model": "${model}"`);
    expect(shown).toMatch(/"text": "[^"]+"/);
    expect(shown).toMatch(/"completionTokens": 24/);
    await page.screenshot({ path: join(testOutputDir, 'graphiql.png') });

    // Scripts, styles and the editor's workers all came from this server; no CDN, nothing else.
    expect(foreignRequests(requested, app.origin)).toEqual([]);
    expect(requested.filter((url) => url.includes('/graphiql/') && url.endsWith('worker.js')).length).toBe(0);
    expect(requested.some((url) => /\/graphiql\/graphiql\.[0-9a-f]{12}\.js$/.test(url))).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });
});
