import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_CACHE_DIR } from '../local/shared-provider.js';
import { browserTests, foreignRequests, launchChromium, openPage, testOutputDir } from './browser.js';

/**
 * What `npm start` serves, opened in a browser with no network: the service bundled as
 * `npm run build` bundles it (into test-output/, so as not to race test/e2e/start.test.ts over
 * dist/), started as a process with no key, then GraphiQL and the playground each run a completion
 * on the local engine.
 */

const model = 'local-ngram-moby-dick';
const bundle = join(testOutputDir, 'start', 'main.js');
const dataDir = mkdtempSync(join(tmpdir(), 'completions-browser-start-'));
let child: ChildProcess | undefined;
let browser: Browser;
let origin = '';
const output: string[] = [];

async function startBundled(): Promise<string> {
  // The build script's flags (package.json "build"), another output file.
  await promisify(execFile)('npx', [
    'esbuild',
    'src/main.ts',
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--target=node20',
    '--packages=external',
    '--log-level=warning',
    `--outfile=${bundle}`,
  ]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    LOCAL_MODEL_CACHE_DIR: TEST_CACHE_DIR,
    SQLITE_PATH: join(dataDir, 'completions.sqlite'),
    LOG_LEVEL: 'info',
  };
  for (const name of [
    'OPENAI_API_KEY',
    'UPSTREAM',
    'OPENAI_BASE_URL',
    'CLIENT_KEYS',
    'DATABASE_URL',
    'REDIS_URL',
  ]) {
    delete env[name];
  }
  const started = spawn(process.execPath, [bundle], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child = started;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /Playground \(watch tokens stream\): (http:\/\/[\d.]+:\d+)\/playground/.exec(
        output.join(''),
      );
      if (match?.[1]) resolve(match[1]);
    };
    started.stdout?.on('data', onData);
    started.stderr?.on('data', onData);
    started.once('exit', (code) =>
      reject(new Error(`exited with ${code} before listening:\n${output.join('')}`)),
    );
  });
}

beforeAll(async () => {
  [browser, origin] = await Promise.all([launchChromium(), startBundled()]);
});

afterAll(async () => {
  await browser?.close();
  // SIGINT: no load-balancer delay before the drain.
  if (child?.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGINT');
    await exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the bundled service in a browser, offline', browserTests, () => {
  it('logs both pages and serves GraphiQL from its own files: the default query runs', async () => {
    expect(output.join('')).toContain(`GraphQL (GraphiQL in a browser): ${origin}/graphql`);
    const { page, problems, requested, context } = await openPage(browser);
    const response = await page.goto(`${origin}/graphql`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    const editor = page.locator('.graphiql-query-editor .view-lines');
    await editor.filter({ hasText: 'mutation Complete' }).waitFor();
    // Monaco draws spaces as no-break spaces.
    const query = ((await editor.textContent()) ?? '').replace(/\u00a0/g, ' ');
    expect(query).toContain('open the playground: /playground');
    expect(query).toContain(`model: "${model}"`);

    await page.getByRole('button', { name: 'Execute query (Ctrl-Enter)' }).click();
    const result = page.locator('.graphiql-response .view-lines');
    await result.filter({ hasText: '"finishReason"' }).waitFor();
    const shown = ((await result.textContent()) ?? '').replace(/\u00a0/g, ' ');
    expect(shown).toContain(`"model": "${model}"`);
    expect(shown).toMatch(/"text": "[^"]+"/);
    expect(shown).toContain('"completionTokens": 24');
    await page.screenshot({ path: join(testOutputDir, 'graphiql.png') });

    // Script, styles and the editor's workers came from this server: no CDN, nothing else.
    expect(foreignRequests(requested, origin)).toEqual([]);
    expect(
      requested.filter((url) => /\/graphiql\/[A-Za-z]+Worker[A-Za-z]*\.[0-9a-f]{12}\.js$/.test(url)),
    ).not.toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('runs a subscription in GraphiQL: the result pane shows its latest event', async () => {
    const { page, problems, requested, context } = await openPage(browser);
    const editor = page.locator('.graphiql-query-editor .view-lines');
    const result = page.locator('.graphiql-response .view-lines');
    const subscription = `subscription { completionStream(input: { model: "${model}", prompt: { text: "The whale" }, maxTokens: 6 }) { choices { text finishReason } } }`;
    await page.goto(`${origin}/graphql?query=${encodeURIComponent(subscription)}`);
    await editor.filter({ hasText: 'completionStream' }).waitFor();
    // GraphiQL runs a subscription as a GET for an event stream: seen leaving, then its events shown.
    const stream = page.waitForResponse(
      (response) =>
        response.url().startsWith(`${origin}/graphql?`) &&
        (response.request().headers().accept ?? '').includes('text/event-stream'),
    );
    await page.getByRole('button', { name: 'Execute query (Ctrl-Enter)' }).click();
    expect((await stream).status()).toBe(200);
    await result
      .filter({ hasText: 'LENGTH' })
      .waitFor()
      .catch(async (error: unknown) => {
        // What the pane, the page and the service said, for a failure on a busy CI machine.
        const shown = (await result.textContent().catch(() => null)) ?? '';
        throw new Error(
          `no finished stream in the result pane: ${shown.slice(0, 500)}\nproblems: ${problems.join('; ')}\nservice: ${output.join('').slice(-2000)}`,
          { cause: error },
        );
      });
    expect(((await result.textContent()) ?? '').replace(/\u00a0/g, ' ')).toContain(
      '"finishReason": "LENGTH"',
    );

    expect(foreignRequests(requested, origin)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('serves the playground from the bundle: a run streams tokens from the local engine', async () => {
    const { page, problems, requested, context } = await openPage(browser);
    await page.goto(`${origin}/playground`);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(model);
    await page.getByLabel('Maximum tokens').fill('12');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.locator('#runs').getAttribute('data-done')).toBe('1');
    expect(await page.locator('[data-stat="state"]').textContent()).toBe('complete');
    expect(await page.locator('.choice .tok').count()).toBe(12);
    expect(await page.locator('[data-stat="usage"]').textContent()).toMatch(/^\d+ \+ 12 = \d+$/);
    expect(foreignRequests(requested, origin)).toEqual([]);
    expect(problems).toEqual([]);
    await context.close();
  });
});
