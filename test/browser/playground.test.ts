import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logprobText, percentText, shadeBucket, tokenText } from '../../src/playground/client/format.js';
import { sseClient } from '../helpers/clients.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { localProvider } from '../local/shared-provider.js';
import { browserTests, foreignRequests, launchChromium, openPage, testOutputDir } from './browser.js';

/** The playground on the embedded engine, in headless Chromium: what a user sees against what the API says. */

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

interface Alternative {
  token: string;
  logprob: number;
}

/** The reference: the operation the page shows, run by a graphql-sse client from Node. */
async function runShownOperation(page: Page) {
  const document = (await page.locator('pre[data-copy="operation-Run"]').textContent()) ?? '';
  const variables = JSON.parse((await page.locator('pre[data-copy="variables-Run"]').textContent()) ?? '');
  const client = sseClient(app.graphqlUrl);
  const { events, error } = await client.run(document, variables);
  await client.dispose();
  expect(error).toBeUndefined();
  const choices = new Map<
    number,
    { tokens: string[]; logprobs: (number | null)[]; top: (Alternative[] | null)[] }
  >();
  let usage: { promptTokens: number; completionTokens: number; totalTokens: number } | undefined;
  for (const event of events) {
    const chunk = event.data.completionStream;
    usage = chunk.usage ?? usage;
    for (const choice of chunk.choices) {
      const entry = choices.get(choice.index) ?? { tokens: [], logprobs: [], top: [] };
      entry.tokens.push(...choice.logprobs.tokens);
      entry.logprobs.push(...choice.logprobs.tokenLogprobs);
      entry.top.push(...choice.logprobs.topLogprobs);
      choices.set(choice.index, entry);
    }
  }
  return { choices, usage };
}

async function shownTokens(page: Page) {
  return page.locator('.choice').evaluateAll((sections) =>
    sections.map((section) =>
      [...section.querySelectorAll<HTMLElement>('.tok')].map((el) => ({
        text: el.textContent,
        classes: el.className,
        logprob: el.dataset.logprob ?? null,
        label: el.getAttribute('aria-label'),
      })),
    ),
  );
}

async function popoverRows(page: Page) {
  return page
    .locator('#token-popover tbody tr')
    .evaluateAll((rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent?.trim())));
}

describe('playground on the local engine', browserTests, () => {
  it('streams n choices side by side, shaded by probability, with alternatives that match the API', async () => {
    const { page, problems, requested, context } = await openPage(browser);
    await page.goto(`${app.origin}/playground`);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(model);
    await page.getByLabel('Prompt', { exact: true }).fill('Call me Ishmael.');
    await page.getByLabel('Maximum tokens').fill('10');
    await page.getByLabel('Choices (n)').fill('2');
    await page.getByLabel('Seed').fill('7');
    await page.getByLabel('Log probabilities', { exact: true }).fill('3');
    await page.getByLabel('Echo the prompt').check();
    await page.getByLabel('Prompt', { exact: true }).press('Control+Enter');
    await expect.poll(() => page.locator('#runs').getAttribute('data-done')).toBe('1');
    expect(await page.locator('[data-stat="state"]').textContent()).toBe('complete');

    const expected = await runShownOperation(page);
    const shown = await shownTokens(page);
    expect(shown).toHaveLength(2);
    for (const [index, column] of shown.entries()) {
      const reference = expected.choices.get(index);
      if (reference === undefined) throw new Error(`no choice ${index} in the reference run`);
      expect(column.map((t) => t.text)).toEqual(reference.tokens);
      for (const [i, token] of column.entries()) {
        const logprob = reference.logprobs[i] ?? null;
        // The echoed prompt's tokens are marked as such, in words too.
        const prompt = reference.tokens.slice(0, i).join('').length < 'Call me Ishmael.'.length;
        expect(token.classes.split(' ').includes('prompt')).toBe(prompt);
        if (logprob === null) {
          expect(token.classes).toContain('unscored');
          continue;
        }
        expect(token.logprob).toBe(logprobText(logprob));
        expect(token.classes).toContain(`p${shadeBucket(logprob)}`);
        expect(token.label).toContain(percentText(logprob));
      }
    }
    const usage = expected.usage;
    expect(await page.locator('[data-stat="usage"]').textContent()).toBe(
      `${usage?.promptTokens} + ${usage?.completionTokens} = ${usage?.totalTokens}`,
    );
    expect(await page.locator('[data-stat="ttft"]').textContent()).toMatch(/^\d+ ms$|^\d+\.\d\d s$/);

    // Side by side: the second choice to the right of the first, on the same row.
    const [first, second] = await page
      .locator('.choice')
      .evaluateAll((els) => els.map((el) => el.getBoundingClientRect().toJSON() as DOMRect));
    expect(second?.left).toBeGreaterThan((first?.right ?? 0) - 1);
    expect(second?.top).toBe(first?.top);

    // Keyboard: one tab stop per choice, arrows move, the popover follows the focus.
    const reference = expected.choices.get(0);
    if (reference === undefined) throw new Error('no choice 0');
    const firstGenerated = shown[0]?.findIndex((t) => !t.classes.includes('prompt')) ?? -1;
    await page.locator('.choice').first().locator('.tok').first().focus();
    for (let i = 0; i < firstGenerated; i++) await page.keyboard.press('ArrowRight');
    const focused = page.locator('.choice').first().locator('.tok').nth(firstGenerated);
    expect(await focused.evaluate((el) => el === document.activeElement)).toBe(true);
    expect(await focused.getAttribute('tabindex')).toBe('0');
    const popover = page.getByRole('tooltip');
    await popover.waitFor({ state: 'visible' });
    const chosen = reference.tokens[firstGenerated] ?? '';
    const chosenLogprob = reference.logprobs[firstGenerated] ?? 0;
    expect(await popover.locator('.popover-head').textContent()).toBe(
      `${tokenText(chosen)} — ${percentText(chosenLogprob)} (log probability ${logprobText(chosenLogprob)})`,
    );
    const top = reference.top[firstGenerated] ?? [];
    const listed = top.some((alt) => alt.token === chosen)
      ? top
      : [...top, { token: chosen, logprob: chosenLogprob }];
    expect(await popoverRows(page)).toEqual(
      listed.map((alt) => [
        `${tokenText(alt.token)}${alt.token === chosen ? ' (chosen)' : ''}`,
        percentText(alt.logprob),
        '',
        logprobText(alt.logprob),
      ]),
    );
    await page.screenshot({ path: join(testOutputDir, 'playground-logprobs.png'), fullPage: true });
    await page.keyboard.press('Escape');
    await popover.waitFor({ state: 'hidden' });

    // Hovering another token shows that token's alternatives.
    const last = reference.tokens.length - 1;
    await page.locator('.choice').first().locator('.tok').nth(last).hover();
    await expect
      .poll(() => popover.locator('.popover-head code').textContent())
      .toBe(tokenText(reference.tokens[last] ?? ''));

    // Numbers as well as colour, on request.
    await page.getByLabel('Show probabilities as numbers').check();
    const after = await focused.evaluate((el) => getComputedStyle(el, '::after').content);
    expect(after).toBe(JSON.stringify(percentText(chosenLogprob)));

    expect(problems).toEqual([]);
    expect(foreignRequests(requested, app.origin)).toEqual([]);
    await context.close();
  });

  it("shows the server's BAD_USER_INPUT beside the control it names, and runs nothing", async () => {
    const { page, problems, context } = await openPage(browser);
    await page.goto(`${app.origin}/playground`);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(model);
    const direct = await app.post(
      'mutation($input: CreateCompletionInput!) { createCompletion(input: $input) { id } }',
      { input: { model, prompt: { text: 'x' }, temperature: 3 } },
    );
    const message = direct.json.errors[0].message as string;
    expect(direct.json.errors[0].extensions.code).toBe('BAD_USER_INPUT');

    await page.getByLabel('Temperature', { exact: true }).fill('3');
    await page.getByRole('button', { name: 'Run' }).click();
    const error = page.locator('#param-temperature-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toBe(message);
    const control = page.getByLabel('Temperature', { exact: true });
    expect(await control.getAttribute('aria-invalid')).toBe('true');
    expect(await control.getAttribute('aria-describedby')).toContain('param-temperature-error');
    // Beside it: in the same field as the control.
    expect(
      await error.evaluate((el) => el.closest('.field')?.querySelector('#param-temperature') !== null),
    ).toBe(true);
    expect(await page.locator('[data-stat="state"]').textContent()).toBe('failed');
    expect(await page.locator('.choice .tokens > *').count()).toBe(0);

    // A value GraphQL itself refuses (Int) is placed by the path in its message; the old error goes.
    await control.fill('0.5');
    await page.getByLabel('Choices (n)').fill('1.5');
    await page.getByRole('button', { name: 'Run' }).click();
    const nError = page.locator('#param-n-error');
    await nError.waitFor({ state: 'visible' });
    expect(await nError.textContent()).toContain('Int cannot represent non-integer value: 1.5');
    expect(await error.isHidden()).toBe(true);
    expect(await control.getAttribute('aria-invalid')).toBeNull();

    // A control under the folded "More parameters" is unfolded to show its error.
    await page.getByLabel('Choices (n)').fill('');
    expect(await page.locator('#more-params').getAttribute('open')).toBeNull();
    await page.evaluate(() => {
      const bestOf = document.querySelector<HTMLInputElement>('#param-bestOf');
      if (bestOf) bestOf.value = '2';
    });
    await page.getByRole('button', { name: 'Run' }).click();
    const bestOfError = page.locator('#param-bestOf-error');
    await bestOfError.waitFor({ state: 'visible' });
    expect(await bestOfError.textContent()).toBe(
      'input.bestOf must be 1 on a streamed completion: best_of results cannot be streamed.',
    );
    expect(await page.locator('#more-params').getAttribute('open')).toBe('');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('compare mode runs A and B at once with their own parameters and figures', async () => {
    const { page, problems, context } = await openPage(browser);
    await page.goto(`${app.origin}/playground`);
    await expect.poll(() => page.locator('#model').inputValue()).toBe(model);
    await page.getByLabel('Seed').fill('3');
    await page.getByLabel('Maximum tokens').fill('8');
    await page.getByLabel('Run a second request beside it (B)').check();
    await page.getByLabel('Temperature (B)').fill('1.7');
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.locator('#runs').getAttribute('data-done')).toBe('1');
    const runs = page.locator('.run');
    expect(await runs.count()).toBe(2);
    expect(await runs.nth(0).getAttribute('aria-label')).toBe(`A · ${model} · temperature 0.8`);
    expect(await runs.nth(1).getAttribute('aria-label')).toBe(`B · ${model} · temperature 1.7`);
    for (const label of ['A', 'B']) {
      const run = page.getByRole('region', { name: new RegExp(`^${label} · `) });
      expect(await run.locator('[data-stat="state"]').textContent()).toBe('complete');
      expect(await run.locator('[data-stat="usage"]').textContent()).toMatch(/^\d+ \+ 8 = \d+$/);
    }
    const b = JSON.parse((await page.locator('pre[data-copy="variables-B"]').textContent()) ?? '');
    expect(b.input.temperature).toBe(1.7);
    expect(await page.locator('#status').textContent()).toMatch(/^Done\. A: 8 tokens, B: 8 tokens in /);
    await page.screenshot({ path: join(testOutputDir, 'playground-compare.png'), fullPage: true });
    expect(problems).toEqual([]);
    await context.close();
  });
});
