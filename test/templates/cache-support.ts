import type { StubHandler } from '../helpers/stub-upstream.js';

/** Templates for the cache tests: one per reuse policy the issue names. */
export const cacheTemplatesYaml = `
templates:
  summary:
    description: A deterministic summary (temperature 0), reused for 60 s.
    prompt: "Summarize {{name}}."
    variables: { name: String! }
    model: gpt-3.5-turbo-instruct
    parameters: { maxTokens: 20, temperature: 0 }
    cache: { ttlSeconds: 60 }
  tagline:
    description: A creative tagline (temperature 0.7, no seed) under the default policy.
    prompt: "A tagline for {{name}}."
    variables: { name: String! }
    model: gpt-3.5-turbo-instruct
    parameters: { maxTokens: 20, temperature: 0.7 }
    cache: { ttlSeconds: 60 }
  stable:
    description: A description that may be stable although sampled (reuse always).
    prompt: "Describe {{name}}."
    variables: { name: String! }
    model: gpt-3.5-turbo-instruct
    parameters: { maxTokens: 20, temperature: 0.9 }
    cache: { ttlSeconds: 60, reuse: always }
  private:
    description: A reply over a client's private text, reused for that client only.
    prompt: "Reply to {{name}}."
    variables: { name: String! }
    model: gpt-3.5-turbo-instruct
    parameters: { maxTokens: 20, temperature: 0 }
    cache: { ttlSeconds: 60, scope: client }
  productSummary:
    description: A summary of a product, as an entity field.
    prompt: "Summarize the product {{name}}."
    variables: { name: String! }
    model: gpt-3.5-turbo-instruct
    parameters: { maxTokens: 20, temperature: 0 }
    cache: { ttlSeconds: 60 }
    entity: { type: Product, key: id, field: aiSummary, requires: { name: String! } }
`;

let served = 0;

/**
 * The upstream: one choice per prompt (a string or an array), each text naming its prompt and a
 * serial number of the answer, so a reused result (same serial) and a new call (new serial) differ.
 */
export const answerEach: StubHandler = (_req, res, request) => {
  const body = request.json as { prompt: string | string[] };
  const prompts = Array.isArray(body.prompt) ? body.prompt : [body.prompt];
  served++;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      id: `cmpl-${served}`,
      object: 'text_completion',
      created: 1,
      model: 'gpt-3.5-turbo-instruct',
      choices: prompts.map((prompt, index) => ({
        text: `answer ${served} to ${prompt}`,
        index,
        logprobs: null,
        finish_reason: 'stop',
      })),
      usage: {
        prompt_tokens: 5 * prompts.length,
        completion_tokens: 4 * prompts.length,
        total_tokens: 9 * prompts.length,
      },
    }),
  );
};

/** A handler held until `open()`, then answering as `then` does: a call in flight on demand. */
export function gated(then: StubHandler): { handler: StubHandler; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return {
    handler: async (req, res, request) => {
      await opened;
      await then(req, res, request);
    },
    open: () => open(),
  };
}

export const fieldQuery = (field: string, extra = '') => `query($name: String!, $o: TemplateOverrides) {
  prompt { ${field}(name: $name, overrides: $o) { text cached completionId usage { totalTokens } } } ${extra}
}`;

export const entitiesQuery = `query($r: [_Any!]!) {
  _entities(representations: $r) { ... on Product { aiSummary { text cached } } }
}`;

export const productsNamed = (names: readonly string[]) =>
  names.map((name, i) => ({ __typename: 'Product', id: `p${i}`, name }));

/** The prompts of each upstream call so far, as arrays. */
export const promptsSent = (requests: readonly { path: string; json?: unknown }[]) =>
  requests
    .filter((r) => r.path === '/completions')
    .map((r) => {
      const prompt = (r.json as { prompt: string | string[] }).prompt;
      return Array.isArray(prompt) ? prompt : [prompt];
    });
