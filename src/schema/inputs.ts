import type {
  CompletionRequestInput,
  LogitBiasEntry,
  PromptInput,
  StreamOptionsInput,
} from '../completions/model.js';
import { builder } from './builder.js';

/** The request side of a completion: every parameter of `POST /v1/completions`, in camelCase. */

export const PromptInputRef = builder.inputRef<PromptInput>('PromptInput').implement({
  description:
    'The prompt(s) to generate completions for: exactly one of a string, a list of strings, a list of tokens, or a list of token lists. ' +
    'Note that <|endoftext|> is the document separator that the model sees during training.',
  isOneOf: true,
  fields: (t) => ({
    text: t.string({ description: 'One prompt as text.' }),
    texts: t.stringList({
      description: 'Several prompts as text; each gets its own choices (indexed promptIndex * n + i).',
    }),
    tokens: t.intList({ description: 'One prompt as token ids of the model’s tokenizer.' }),
    tokenBatches: t.field({
      type: t.listRef(t.listRef('Int')),
      description: 'Several prompts, each as a non-empty list of token ids.',
    }),
  }),
});

export const LogitBiasEntryRef = builder.inputRef<LogitBiasEntry>('LogitBiasEntry').implement({
  description:
    'A bias added to the logit of one token before sampling. Values between -1 and 1 nudge the token; -100 bans it and 100 forces it.',
  fields: (t) => ({
    token: t.int({
      required: true,
      description: 'The token id in the model’s GPT tokenizer (for example 50256, <|endoftext|>).',
    }),
    bias: t.float({ required: true, description: 'The bias, from -100 to 100.' }),
  }),
});

export const StreamOptionsInputRef = builder.inputRef<StreamOptionsInput>('StreamOptionsInput').implement({
  description: 'Options for a streamed completion.',
  fields: (t) => ({
    includeUsage: t.boolean({
      description:
        'If true, a last event before the end of the stream carries the token usage of the whole request, with no choices. ' +
        'If the stream is interrupted, that event may never come.',
    }),
  }),
});

export const CreateCompletionInputRef = builder
  .inputRef<CompletionRequestInput>('CreateCompletionInput')
  .implement({
    description:
      'The parameters of a text completion, as the upstream `POST /v1/completions` documents them.',
    fields: (t) => ({
      model: t.string({
        required: true,
        description: 'ID of the model to use; `Query.models` lists the ones this server can reach.',
      }),
      prompt: t.field({
        type: PromptInputRef,
        required: true,
        description: 'The prompt(s) to generate completions for.',
      }),
      suffix: t.string({
        description:
          'The suffix that comes after a completion of inserted text. Only some models support it.',
      }),
      maxTokens: t.int({
        description:
          'The maximum number of tokens that can be generated in the completion (upstream default 16). ' +
          'The prompt’s tokens plus maxTokens cannot exceed the model’s context length. 0 is allowed only with echo.',
      }),
      temperature: t.float({
        description:
          'Sampling temperature between 0 and 2 (default 1). Higher values like 0.8 make the output more random, lower values like 0.2 more focused and deterministic. ' +
          'Alter this or topP, not both.',
      }),
      topP: t.float({
        description:
          'Nucleus sampling between 0 and 1 (default 1): only the tokens comprising the topP probability mass are considered. Alter this or temperature, not both.',
      }),
      n: t.int({
        description:
          'How many completions to generate for each prompt, 1 to 128 (default 1). Costs n times the tokens.',
      }),
      logprobs: t.int({
        description:
          'Include the log probabilities of the `logprobs` most likely tokens (0 to 5) and of the chosen token, so up to logprobs + 1 entries per position.',
      }),
      echo: t.boolean({ description: 'Echo back the prompt in addition to the completion (default false).' }),
      stop: t.stringList({
        description:
          'Up to 4 sequences where generation stops. The returned text does not contain the stop sequence.',
      }),
      presencePenalty: t.float({
        description:
          'Between -2.0 and 2.0 (default 0). Positive values penalize tokens that already appear in the text so far, making new topics more likely.',
      }),
      frequencyPenalty: t.float({
        description:
          'Between -2.0 and 2.0 (default 0). Positive values penalize tokens by how often they appear in the text so far, making verbatim repetition less likely.',
      }),
      bestOf: t.int({
        description:
          'Generates bestOf candidates server-side (at most 20, at least n) and returns the n with the highest log probability per token. Cannot be streamed; costs bestOf times the tokens.',
      }),
      logitBias: t.field({
        type: [LogitBiasEntryRef],
        description: 'Biases added to the logits of chosen tokens before sampling (at most 300 entries).',
      }),
      user: t.string({
        description: 'A unique identifier of your end user, which helps the upstream detect abuse.',
      }),
      seed: t.int({
        description:
          'If set, sampling is made deterministic on a best-effort basis: the same seed and parameters should return the same result. Compare systemFingerprint to see backend changes.',
      }),
      store: t.boolean({
        description:
          'Keep the finished completion (default false): `Query.completion(id)` and other subgraphs (through the CreateCompletionResponse entity) can read it later. A streamed completion is stored once it has ended.',
      }),
      streamOptions: t.field({
        type: StreamOptionsInputRef,
        description:
          'Options for `Subscription.completionStream` only; refused on `Mutation.createCompletion`.',
      }),
    }),
  });

/** The `input` argument of `createCompletion` and `completionStream`, declared once. */
export const completionInputArg = {
  type: CreateCompletionInputRef,
  required: true,
  description: 'The completion’s parameters.',
} as const;
