import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisPromptCache } from '../../src/storage/redis-prompt-cache.js';
import { parsePromptsFile } from '../../src/templates/config-file.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import {
  answerEach,
  cacheTemplatesYaml,
  entitiesQuery,
  fieldQuery,
  productsNamed,
  promptsSent,
} from './cache-support.js';

/**
 * Entity fields and the cache: a batch looks all its prompts up at once and calls the upstream
 * for the misses only, in one call (or calls of at most maxPromptsPerCall prompts); the service
 * runs open here, so the Cache-Control it sends is public. Redis shares results between instances.
 */

let stubbed: StubbedApp;
let run = 0;
const names = (count: number, tag = `run ${++run}`) =>
  Array.from({ length: count }, (_, i) => `Item ${i} (${tag})`);
const prompt = (name: string) => `Summarize the product ${name}.`;
const sentSince = (from: number) => promptsSent(stubbed.stub.requests).slice(from);

beforeAll(async () => {
  stubbed = await startStubbedApp({
    app: { prompts: { templates: parsePromptsFile(cacheTemplatesYaml), allowRawPrompts: true } },
  });
  stubbed.stub.on('POST', '/completions', answerEach);
});
afterAll(() => stopStubbedApp(stubbed));

describe('an _entities batch', () => {
  it('calls for the misses only: 5 new → 1 call of 5; again → no call, all cached; 3 old + 2 new → 1 call of 2', async () => {
    const from = stubbed.stub.hits('/completions');
    const five = names(5);
    const first = await stubbed.app.post(entitiesQuery, { r: productsNamed(five) });
    expect(
      first.json.data._entities.map((e: { aiSummary: { cached: boolean } }) => e.aiSummary.cached),
    ).toEqual(Array(5).fill(false));
    expect(sentSince(from)).toEqual([five.map(prompt)]);
    expect(first.headers.get('cache-control')).toBe('public, max-age=60');

    const again = await stubbed.app.post(entitiesQuery, { r: productsNamed(five) });
    expect(again.json.data).toEqual({
      _entities: first.json.data._entities.map((e: { aiSummary: object }) => ({
        aiSummary: { ...e.aiSummary, cached: true },
      })),
    });
    expect(sentSince(from)).toHaveLength(1);

    const fresh = names(2);
    const mixed = [five[3], fresh[0], five[0], fresh[1], five[4]] as string[];
    const third = await stubbed.app.post(entitiesQuery, { r: productsNamed(mixed) });
    expect(sentSince(from)).toEqual([
      five.map(prompt),
      [prompt(fresh[0] as string), prompt(fresh[1] as string)],
    ]);
    const texts = third.json.data._entities.map(
      (e: { aiSummary: { text: string; cached: boolean } }) => e.aiSummary,
    );
    // Each entity its own prompt's text, whether reused or new.
    for (const [i, name] of mixed.entries()) expect(texts[i].text).toContain(prompt(name));
    expect(texts.map((t: { cached: boolean }) => t.cached)).toEqual([true, false, true, false, true]);
  });

  it('the same prompt twice in one batch is asked once', async () => {
    const from = stubbed.stub.hits('/completions');
    const [a, b] = names(2) as [string, string];
    const response = await stubbed.app.post(entitiesQuery, { r: productsNamed([a, b, a]) });
    expect(sentSince(from)).toEqual([[prompt(a), prompt(b)]]);
    const [first, , third] = response.json.data._entities;
    expect(third.aiSummary.text).toBe(first.aiSummary.text);
  });

  it('selecting anything but template fields sends no Cache-Control', async () => {
    const response = await stubbed.app.post(
      `query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Product { aiSummary { text } } ... on CreateCompletionResponse { id } } }`,
      { r: productsNamed(names(1)) },
    );
    expect(response.json.data._entities[0].aiSummary.text).toBeTruthy();
    expect(response.headers.get('cache-control')).toBe('no-store, max-age=0');
  });
});

describe('maxPromptsPerCall', () => {
  it('12 entities with at most 5 prompts per call: 3 calls of 5, 5 and 2 prompts, in order, each entity its text', async () => {
    const split = await startStubbedApp({
      app: {
        prompts: {
          templates: parsePromptsFile(`maxPromptsPerCall: 5\n${cacheTemplatesYaml}`),
          allowRawPrompts: true,
        },
        promptCache: false,
      },
    });
    split.stub.on('POST', '/completions', answerEach);
    try {
      const twelve = names(12);
      const response = await split.app.post(entitiesQuery, { r: productsNamed(twelve) });
      const sent = promptsSent(split.stub.requests);
      expect(sent.map((p) => p.length)).toEqual([5, 5, 2]);
      expect(sent.flat().sort()).toEqual(twelve.map(prompt).sort());
      for (const [i, name] of twelve.entries()) {
        expect(response.json.data._entities[i].aiSummary.text).toContain(prompt(name));
      }
    } finally {
      await stopStubbedApp(split);
    }
  });
});

describe.skipIf(!process.env.TEST_REDIS_URL)('in Redis', () => {
  it('two instances share results: what one paid for, the other reuses', async () => {
    const url = process.env.TEST_REDIS_URL as string;
    const keyPrefix = `test:${randomUUID()}:`;
    const stores = [
      await createRedisPromptCache({ url, keyPrefix }),
      await createRedisPromptCache({ url, keyPrefix }),
    ];
    const apps = await Promise.all(
      stores.map((promptCache) =>
        startStubbedApp({
          app: {
            prompts: { templates: parsePromptsFile(cacheTemplatesYaml), allowRawPrompts: true },
            promptCache,
          },
        }),
      ),
    );
    try {
      for (const app of apps) app.stub.on('POST', '/completions', answerEach);
      const [one, two] = apps as [StubbedApp, StubbedApp];
      const name = `Shared ${randomUUID()}`;
      const paid = await one.app.post(fieldQuery('summary'), { name });
      expect(paid.json.data.prompt.summary.cached).toBe(false);
      // The write lands after the response: the second instance sees it once Redis has it.
      await expect
        .poll(
          async () =>
            (await two.app.post(fieldQuery('summary'), { name: `${name}` })).json.data.prompt.summary.cached,
        )
        .toBe(true);
      expect(one.stub.hits('/completions')).toBe(1);
    } finally {
      await Promise.all(apps.map(stopStubbedApp));
      await Promise.all(stores.map((store) => store.close?.()));
    }
  });
});
