import type { ResultOf, TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateCompletionDocument, ModelsDocument } from '../generated/graphql.js';
import { executeOverHttp } from '../helpers/clients.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** The codegen's typed documents through a real client: what a typed frontend would compile against. */

let stub: StubUpstream;
let app: TestApp;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp());
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-prompt-array.json'));
  stub.on('GET', '/models', reply.models('davinci-002'));
});

afterAll(() => stopStubbedApp({ stub, app }));

/** A typed document in, its typed data out: what a typed frontend would compile against. */
async function execute<Result, Variables extends Record<string, unknown>>(
  document: TypedDocumentNode<Result, Variables>,
  variables?: Variables,
): Promise<Result> {
  const { data, errors } = await executeOverHttp<Result>(app.graphqlUrl, print(document), variables);
  if (errors || data == null) throw new Error(JSON.stringify(errors));
  return data;
}

describe('typed documents', () => {
  it('CreateCompletion returns data of the generated type', async () => {
    const data: ResultOf<typeof CreateCompletionDocument> = await execute(CreateCompletionDocument, {
      input: { model: 'gpt-3.5-turbo-instruct', prompt: { texts: ['a', 'b'] }, maxTokens: 256 },
    });
    const reasons: ('STOP' | 'LENGTH' | 'CONTENT_FILTER' | 'OTHER' | null | undefined)[] =
      data.createCompletion.choices.map((c) => c.finishReason);
    expect(reasons).toEqual(['LENGTH', 'STOP']);
    expect(data.createCompletion.usage?.totalTokens).toBe(296);
  });

  it('Models lists ids', async () => {
    const data = await execute(ModelsDocument);
    expect(data.models.map((m) => m.id)).toEqual(['davinci-002']);
  });
});
