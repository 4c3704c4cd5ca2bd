import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/** Routine events are not errors, and what a client sent (its prompt) stays out of the log. */

let stubbed: StubbedApp;
beforeAll(async () => {
  stubbed = await startStubbedApp({ production: true });
});
afterAll(() => stopStubbedApp(stubbed));

const prompt = 'my secret plans for tuesday';
const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: prompt }, maxTokens: 5 };

function linesSince(start: number): { level: number; msg: string; code?: string }[] {
  return stubbed.app.logs.slice(start).flatMap((text) =>
    text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line)),
  );
}

describe('log levels', () => {
  it('an upstream failure is a warning with its code, without the document or the prompt', async () => {
    const start = stubbed.app.logs.length;
    stubbed.stub.on('POST', '/completions', reply.json(500, { error: { message: 'boom' } }));
    const response = await stubbed.app.post(createCompletion, { input });
    expect(response.json.errors[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
    const lines = linesSince(start);
    expect(lines).toContainEqual(expect.objectContaining({ level: 40, code: 'UPSTREAM_UNAVAILABLE' }));
    expect(lines.filter((line) => line.level >= 50)).toEqual([]);
    expect(stubbed.app.logs.slice(start).join('')).not.toMatch(/secret plans|GraphQL request/);
  });

  it('a stream failing on our own credentials is an error line without the document or the prompt', async () => {
    const start = stubbed.app.logs.length;
    stubbed.stub.on('POST', '/completions', reply.json(401, { error: { message: 'Incorrect API key' } }));
    const response = await fetch(`${stubbed.app.origin}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: `subscription { completionStream(input: { model: "gpt-3.5-turbo-instruct", prompt: { text: "${prompt}" }, maxTokens: 5 }) { choices { text } } }`,
      }),
    });
    expect(await response.text()).toContain('INTERNAL_SERVER_ERROR');
    await expect.poll(() => linesSince(start).filter((line) => line.level >= 50).length).toBeGreaterThan(0);
    expect(stubbed.app.logs.slice(start).join('')).not.toMatch(/secret plans|GraphQL request/);
  });

  it('no line, at any level, quotes what a client sent in a refused variable (its prompt)', async () => {
    const start = stubbed.app.logs.length;
    const refused = await stubbed.app.post(createCompletion, { input: { ...input, unknownField: 1 } });
    expect(refused.json.errors[0].extensions.code).toBeTruthy();
    const wrongType = await stubbed.app.post(createCompletion, { input: { ...input, maxTokens: 'five' } });
    expect(wrongType.json.errors[0].extensions.code).toBeTruthy();
    const lines = linesSince(start);
    expect(lines.length).toBeGreaterThan(0);
    expect(stubbed.app.logs.slice(start).join('')).not.toMatch(/secret plans/);
  });

  it('a refused parameter and a client that leaves are not warnings or errors', async () => {
    const start = stubbed.app.logs.length;
    await stubbed.app.post(createCompletion, { input: { ...input, temperature: 9 } });
    stubbed.stub.on('POST', '/completions', reply.hang());
    const closedBefore = stubbed.stub.closedConnections;
    const requestsBefore = stubbed.stub.requests.length;
    const leaving = new AbortController();
    const pending = fetch(stubbed.app.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: createCompletion, variables: { input } }),
      signal: leaving.signal,
    }).catch(() => undefined);
    await expect.poll(() => stubbed.stub.requests.length).toBeGreaterThan(requestsBefore);
    leaving.abort();
    await pending;
    await expect.poll(() => stubbed.stub.closedConnections).toBe(closedBefore + 1);
    expect(linesSince(start).filter((line) => line.level >= 40)).toEqual([]);
  });
});
