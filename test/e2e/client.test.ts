import { buildClientSchema, getIntrospectionQuery, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executeOverHttp } from '../helpers/clients.js';
import { createCompletion } from '../helpers/operations.js';
import { reply, type StubUpstream } from '../helpers/stub-upstream.js';
import { startStubbedApp, stopStubbedApp, type TestApp } from '../helpers/test-app.js';

/** A real GraphQL-over-HTTP client against the real listening server. */

let stub: StubUpstream;
let app: TestApp;

beforeAll(async () => {
  ({ stub, app } = await startStubbedApp());
  stub.on('POST', '/completions', reply.recorded('openai-nonstream-basic.json'));
  stub.on('GET', '/models', reply.models('gpt-3.5-turbo-instruct'));
});

afterAll(() => stopStubbedApp({ stub, app }));

const execute = (query: string, variables?: Record<string, unknown>) =>
  executeOverHttp(app.graphqlUrl, query, variables);

describe('graphql-http client over 127.0.0.1', () => {
  it('creates a completion and lists models', async () => {
    const created = await execute(createCompletion, {
      input: { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Who won?' } },
    });
    expect(created.errors).toBeUndefined();
    expect(created.data).toMatchObject({
      createCompletion: {
        choices: [{ text: '\n\nThe Toronto Raptors won the 2019 NBA Finals.', finishReason: 'STOP' }],
      },
    });
    const listed = await execute('{ models { id } }');
    expect(listed.data).toEqual({ models: [{ id: 'gpt-3.5-turbo-instruct' }] });
  });

  it('serves full introspection (as GraphiQL and codegen send it) within the operation limits', async () => {
    const query = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      inputValueDeprecation: true,
    });
    const { data, errors } = await execute(query);
    expect(errors).toBeUndefined();
    const schema = buildClientSchema(data as IntrospectionQuery);
    expect(Object.keys(schema.getMutationType()?.getFields() ?? {})).toContain('createCompletion');
    expect(schema.getType('CreateCompletionInput')?.description).toMatch(/parameters of a text completion/);
  });

  it('GET /healthz answers 200', async () => {
    const response = await fetch(`${app.origin}/healthz`);
    expect(response.status).toBe(200);
  });

  it('serves GraphiQL to a browser', async () => {
    const response = await fetch(app.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('GraphiQL');
  });
});
