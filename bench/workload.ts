/** What the bench sends: the upstream request body and the GraphQL operations, defined once. */

export const model = 'gpt-3.5-turbo-instruct';
/** The model name that makes the stub keep a stream open (one event a second, never ending). */
export const holdModelId = 'bench-hold';

export const wireRequest = { model, prompt: 'Who won the 2019 NBA Finals?', max_tokens: 16 };
export const wireBody = JSON.stringify(wireRequest);
export const wireStreamBody = JSON.stringify({ ...wireRequest, stream: true });

const fields = 'id model created choices { index text finishReason } usage { promptTokens totalTokens }';

export const createCompletionBody = JSON.stringify({
  query: `mutation Create($input: CreateCompletionInput!) { createCompletion(input: $input) { ${fields} } }`,
  variables: { input: { model, prompt: { text: wireRequest.prompt }, maxTokens: 16 } },
});

export const streamQuery = `subscription Stream($input: CreateCompletionInput!) { completionStream(input: $input) { ${fields} } }`;

export function streamVariables(modelId = model) {
  return { input: { model: modelId, prompt: { text: wireRequest.prompt }, maxTokens: 16 } };
}

export function streamBody(modelId = model): string {
  return JSON.stringify({ query: streamQuery, variables: streamVariables(modelId) });
}

export const jsonHeaders = { 'content-type': 'application/json', accept: 'application/json' };
export const graphqlHeaders = {
  'content-type': 'application/json',
  accept: 'application/graphql-response+json',
};
export const sseHeaders = { 'content-type': 'application/json', accept: 'text/event-stream' };
