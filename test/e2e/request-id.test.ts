import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/** Every request has an id: in the response header, in extensions, on its log lines, at the upstream. */

let stubbed: StubbedApp;
beforeAll(async () => {
  stubbed = await startStubbedApp();
  stubbed.stub.on(
    'POST',
    '/completions',
    reply.recorded('openai-nonstream-basic.json', { 'x-request-id': 'req_up' }),
  );
});
afterAll(() => stopStubbedApp(stubbed));

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Hi' }, maxTokens: 5 };

describe('request ids', () => {
  it('keeps a sane caller id: header, extensions and the upstream request', async () => {
    const response = await stubbed.app.post(createCompletion, { input }, { 'x-request-id': 'gw-7f3a:42' });
    expect(response.headers.get('x-request-id')).toBe('gw-7f3a:42');
    expect(response.json.extensions.requestId).toBe('gw-7f3a:42');
    expect(stubbed.stub.requests.at(-1)?.headers['x-request-id']).toBe('gw-7f3a:42');
    // A refusal before execution carries it too.
    const refused = await stubbed.app.post('{ nope }', {}, { 'x-request-id': 'gw-7f3a:43' });
    expect(refused.json.extensions.requestId).toBe('gw-7f3a:43');
  });

  it('makes a new one for a missing, overlong or unsafe id', async () => {
    const ids = new Set<string>();
    for (const header of [undefined, 'x'.repeat(129), 'bad id\r\nx-evil: 1', '<script>']) {
      const response = await stubbed.app.post(
        '{ __typename }',
        {},
        header === undefined ? {} : { 'x-request-id': header.replace(/[\r\n]/g, '') },
      );
      const id = response.headers.get('x-request-id') ?? '';
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.json.extensions.requestId).toBe(id);
      ids.add(id);
    }
    expect(ids.size).toBe(4);
  });

  it('the REST face answers our id, with the upstream’s beside it', async () => {
    const response = await fetch(`${stubbed.app.origin}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'rest-1' },
      body: JSON.stringify({ model: 'm', prompt: 'x', max_tokens: 3 }),
    });
    expect(response.headers.get('x-request-id')).toBe('rest-1');
    expect(response.headers.get('x-upstream-request-id')).toBe('req_up');
    expect(stubbed.stub.requests.at(-1)?.headers['x-request-id']).toBe('rest-1');
  });
});
