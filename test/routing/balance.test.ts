import { afterEach, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { held, type RoutedApp, startRoutedApp } from './routed-app.js';

/** Within a group: calls shared by weight, or sent to the deployment with the fewest in flight. */

let routed: RoutedApp;
afterEach(() => routed.close());

const deployments = (urls: Record<'a' | 'b' | 'c', string>, weights = [1, 2, 1]) => `
deployments:
  - { name: a, kind: openai, baseUrl: "${urls.a}", apiKeyEnv: KEY_A, models: [m], weight: ${weights[0]} }
  - { name: b, kind: openai, baseUrl: "${urls.b}", apiKeyEnv: KEY_A, models: [m], weight: ${weights[1]} }
  - { name: c, kind: openai, baseUrl: "${urls.c}", apiKeyEnv: KEY_A, models: [m], weight: ${weights[2]} }
`;

const complete = () => routed.app.post(createCompletion, { input: { model: 'm', prompt: { text: 'hi' } } });

describe('weighted random', () => {
  it('shares 400 calls 1 : 2 : 1 within 20 %, every answer under the public name', async () => {
    routed = await startRoutedApp({ file: (urls) => `${deployments(urls)}routes:\n  m: [[a, b, c]]\n` });
    for (const stub of Object.values(routed.stubs))
      stub.on('POST', '/completions', reply.completionOrStream());
    for (let i = 0; i < 400; i++) {
      const { json } = await complete();
      expect(json.data.createCompletion.model).toBe('m');
    }
    const hits = { a: routed.stubs.a.hits(), b: routed.stubs.b.hits(), c: routed.stubs.c.hits() };
    expect(hits.a + hits.b + hits.c).toBe(400);
    expect(Math.abs(hits.a - 100)).toBeLessThanOrEqual(100 * 0.2);
    expect(Math.abs(hits.b - 200)).toBeLessThanOrEqual(200 * 0.2);
    expect(Math.abs(hits.c - 100)).toBeLessThanOrEqual(100 * 0.2);
    // The deployment's own model name went upstream (here the same as the public one).
    expect(routed.stubs.b.requests[0]?.json).toMatchObject({ model: 'm' });
  });
});

describe('least outstanding', () => {
  it('while one deployment holds a call, the idle one takes every other', async () => {
    routed = await startRoutedApp({
      file: (urls) =>
        `${deployments(urls, [1, 1, 1])}routes:\n  m: { balance: least-outstanding, groups: [[a, b]] }\n`,
    });
    const holdA = held(reply.completionOrStream());
    const holdB = held(reply.completionOrStream());
    routed.stubs.a.on('POST', '/completions', holdA.handler, reply.completionOrStream());
    routed.stubs.b.on('POST', '/completions', holdB.handler, reply.completionOrStream());
    const first = complete();
    // Whichever took the first call now has one in flight; the other is idle.
    const busy = await Promise.race([
      holdA.arrived.then(() => 'a' as const),
      holdB.arrived.then(() => 'b' as const),
    ]);
    const idle = busy === 'a' ? 'b' : 'a';
    if (idle === 'a') holdA.release();
    else holdB.release();
    for (let i = 0; i < 10; i++) expect((await complete()).json.data.createCompletion.id).toBeTruthy();
    expect(routed.stubs[idle].hits()).toBe(10);
    expect(routed.stubs[busy].hits()).toBe(1);
    if (busy === 'a') holdA.release();
    else holdB.release();
    expect((await first).json.data.createCompletion.model).toBe('m');
  });
});
