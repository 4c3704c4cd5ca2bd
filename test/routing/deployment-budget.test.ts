import { afterEach, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { type RoutedApp, type StubName, startRoutedApp } from './routed-app.js';

/**
 * A deployment's own rate budget (rpm, tpm): when it is spent the deployment is skipped at once and
 * the next one serves; when every deployment is out, UPSTREAM_RATE_LIMITED says when to retry.
 * Budgets refill with the injected clock.
 */

let routed: RoutedApp;
afterEach(() => routed.close());

const file = (limits: string) => (urls: Record<StubName, string>) =>
  `
deployments:
  - { name: a, kind: openai, baseUrl: "${urls.a}", apiKeyEnv: KEY_A, models: [m], ${limits} }
  - { name: b, kind: openai, baseUrl: "${urls.b}", apiKeyEnv: KEY_A, models: [m], rpm: 1 }
routes:
  m: [[a], [b]]
`;
const complete = (maxTokens = 4) =>
  routed.app.post(createCompletion, { input: { model: 'm', prompt: { text: 'hi' }, maxTokens } });
const budgets = async () =>
  (await routed.app.post('{ models { deployments { name remainingRequests remainingTokens } } }')).json.data
    .models[0].deployments;

describe('a deployment out of budget is skipped, not waited on', () => {
  it('rpm: a takes two calls a minute, b the third; a refills with time', async () => {
    routed = await startRoutedApp({ file: file('rpm: 2') });
    for (const stub of [routed.stubs.a, routed.stubs.b])
      stub.on('POST', '/completions', reply.completionOrStream());
    for (let i = 0; i < 3; i++) expect((await complete()).json.data.createCompletion.model).toBe('m');
    expect([routed.stubs.a.hits(), routed.stubs.b.hits()]).toEqual([2, 1]);
    expect(await budgets()).toEqual([
      { name: 'a', remainingRequests: 0, remainingTokens: null },
      { name: 'b', remainingRequests: 0, remainingTokens: null },
    ]);

    // Both spent: refused at once, told when a first has room again (30 s at 2 a minute).
    const { json } = await complete();
    expect(json.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_RATE_LIMITED', retryAfter: 30 });
    expect([routed.stubs.a.hits(), routed.stubs.b.hits()]).toEqual([2, 1]);

    routed.clock.advance(30_000);
    expect((await complete()).json.data.createCompletion.model).toBe('m');
    expect(routed.stubs.a.hits()).toBe(3);
  });

  it('tpm: reserved from the price, settled with the usage (22 tokens a call here)', async () => {
    routed = await startRoutedApp({ file: file('tpm: 60') });
    for (const stub of [routed.stubs.a, routed.stubs.b])
      stub.on('POST', '/completions', reply.completionOrStream());
    // Reserves 1 + 4 = 5, settles 22: 38 left, then 16; a third (5) still fits, then 60 - 66 < 0.
    for (let i = 0; i < 3; i++) await complete();
    expect(routed.stubs.a.hits()).toBe(3);
    expect((await budgets())[0]).toMatchObject({ name: 'a', remainingTokens: 0 });
    await complete();
    expect([routed.stubs.a.hits(), routed.stubs.b.hits()]).toEqual([3, 1]);
  });
});
