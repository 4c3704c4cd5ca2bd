/**
 * The schema the peers of section 6 serve: the shape of the service's `createCompletion` (the same
 * input fields and types, the response fields the workload selects and their neighbours), with the
 * resolver a user would write by hand — input to wire body, one undici request on a keep-alive
 * pool, JSON back to GraphQL. Apollo Server, Mercurius and the bare yoga reference all take it as
 * SDL plus a resolver map, so the only thing that differs between them is the framework.
 */
import { Agent, request } from 'undici';

export const peerTypeDefs = /* GraphQL */ `
  input PromptInput { text: String texts: [String!] tokens: [Int!] tokenBatches: [[Int!]!] }
  input LogitBiasEntry { token: Int! bias: Float! }
  input StreamOptionsInput { includeUsage: Boolean }
  input CreateCompletionInput {
    model: String!
    prompt: PromptInput!
    suffix: String
    maxTokens: Int
    temperature: Float
    topP: Float
    n: Int
    logprobs: Int
    echo: Boolean
    stop: [String!]
    presencePenalty: Float
    frequencyPenalty: Float
    bestOf: Int
    logitBias: [LogitBiasEntry!]
    user: String
    seed: Int
    store: Boolean
    streamOptions: StreamOptionsInput
  }
  enum FinishReason { STOP LENGTH CONTENT_FILTER OTHER }
  type CompletionChoice { index: Int! text: String! finishReason: FinishReason finishReasonRaw: String }
  type CompletionUsage { promptTokens: Int! completionTokens: Int! totalTokens: Int! }
  type CreateCompletionResponse {
    id: ID!
    object: String!
    created: Int!
    model: String!
    systemFingerprint: String
    choices: [CompletionChoice!]!
    usage: CompletionUsage
  }
  type Query { ok: Boolean }
  type Mutation { createCompletion(input: CreateCompletionInput!): CreateCompletionResponse! }
`;

export interface PeerInput {
  model: string;
  prompt: {
    text?: string | null;
    texts?: string[] | null;
    tokens?: number[] | null;
    tokenBatches?: number[][] | null;
  };
  suffix?: string | null;
  maxTokens?: number | null;
  temperature?: number | null;
  topP?: number | null;
  n?: number | null;
  logprobs?: number | null;
  echo?: boolean | null;
  stop?: string[] | null;
  presencePenalty?: number | null;
  frequencyPenalty?: number | null;
  bestOf?: number | null;
  logitBias?: { token: number; bias: number }[] | null;
  user?: string | null;
  seed?: number | null;
}

interface WireResponse {
  id: string;
  object: string;
  created: number;
  model: string;
  system_fingerprint?: string | null;
  choices: { index: number; text: string; finish_reason: string | null }[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
}

const finishReasons: Record<string, string> = {
  stop: 'STOP',
  length: 'LENGTH',
  content_filter: 'CONTENT_FILTER',
};

function toWire(input: PeerInput): Record<string, unknown> {
  const { prompt } = input;
  const wire: Record<string, unknown> = {
    model: input.model,
    prompt: prompt.text ?? prompt.texts ?? prompt.tokens ?? prompt.tokenBatches ?? '<|endoftext|>',
  };
  const pairs: [string, unknown][] = [
    ['suffix', input.suffix],
    ['max_tokens', input.maxTokens],
    ['temperature', input.temperature],
    ['top_p', input.topP],
    ['n', input.n],
    ['logprobs', input.logprobs],
    ['echo', input.echo],
    ['stop', input.stop],
    ['presence_penalty', input.presencePenalty],
    ['frequency_penalty', input.frequencyPenalty],
    ['best_of', input.bestOf],
    ['user', input.user],
    ['seed', input.seed],
  ];
  for (const [key, value] of pairs) if (value !== null && value !== undefined) wire[key] = value;
  if (input.logitBias) wire.logit_bias = Object.fromEntries(input.logitBias.map((e) => [e.token, e.bias]));
  return wire;
}

function fromWire(wire: WireResponse) {
  return {
    id: wire.id,
    object: wire.object,
    created: wire.created,
    model: wire.model,
    systemFingerprint: wire.system_fingerprint ?? null,
    choices: wire.choices.map((choice) => ({
      index: choice.index,
      text: choice.text,
      finishReason: choice.finish_reason === null ? null : (finishReasons[choice.finish_reason] ?? 'OTHER'),
      finishReasonRaw: choice.finish_reason,
    })),
    usage: wire.usage
      ? {
          promptTokens: wire.usage.prompt_tokens,
          completionTokens: wire.usage.completion_tokens,
          totalTokens: wire.usage.total_tokens,
        }
      : null,
  };
}

/** The `createCompletion` resolver for a server in front of the upstream at `origin`. */
export function createCompletionResolver(origin: string) {
  const agent = new Agent({ keepAliveTimeout: 30_000 });
  const url = `${origin}/v1/completions`;
  return async (_root: unknown, args: { input: PeerInput }) => {
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-not-a-secret' },
      body: JSON.stringify(toWire(args.input)),
    });
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`upstream answered ${response.statusCode}`);
    return fromWire(JSON.parse(text) as WireResponse);
  };
}
