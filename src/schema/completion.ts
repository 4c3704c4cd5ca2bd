import type {
  Completion,
  CompletionChoice,
  CompletionLogprobs,
  CompletionTokensDetails,
  CompletionUsage,
  PromptTokensDetails,
  TopLogprob,
} from '../completions/model.js';
import { finishReasons } from '../completions/model.js';
import { builder } from './builder.js';
import { completionCallOptions, plannedCall } from './call-options.js';
import { completionInputArg } from './inputs.js';

/** The response side of a completion and the mutation that creates one. */

/** The `@cost` weight of a field that calls the paid upstream. */
export const completionFieldCost = 1000;

const finishReasonDescriptions: Record<(typeof finishReasons)[number], string> = {
  STOP: 'The model hit a natural stop point or a provided stop sequence.',
  LENGTH: 'The maximum number of tokens in the request was reached.',
  CONTENT_FILTER: 'Content was omitted because of a flag from the upstream’s content filters.',
  OTHER:
    'A reason outside the spec that a compatible server sent (vLLM sends abort, error, repetition); see finishReasonRaw.',
};

export const FinishReasonRef = builder.enumType('FinishReason', {
  description: 'Why the model stopped generating tokens.',
  values: Object.fromEntries(
    finishReasons.map((value) => [value, { description: finishReasonDescriptions[value] }]),
  ),
});

export const TopLogprobRef = builder.objectRef<TopLogprob>('TopLogprob').implement({
  description: 'One of the most likely tokens at a position, with its log probability.',
  fields: (t) => ({
    token: t.exposeString('token', { description: 'The token’s text.' }),
    logprob: t.exposeFloat('logprob', { description: 'The natural log of the token’s probability.' }),
  }),
});

export const CompletionLogprobsRef = builder.objectRef<CompletionLogprobs>('CompletionLogprobs').implement({
  description:
    'Log probabilities of the tokens of a choice, position by position (present when logprobs was asked for).',
  fields: (t) => ({
    tokens: t.exposeStringList('tokens', { description: 'The tokens of the choice’s text, in order.' }),
    tokenLogprobs: t.field({
      type: ['Float'],
      nullable: { list: false, items: true },
      description:
        'The log probability of each token; null where there is none (the first echoed prompt token).',
      resolve: (logprobs) => logprobs.tokenLogprobs,
    }),
    textOffset: t.exposeIntList('textOffset', {
      description: 'The character offset of each token in the text.',
    }),
    topLogprobs: t.field({
      type: t.listRef(t.listRef(TopLogprobRef), { nullable: true }),
      nullable: true,
      description:
        'For each position, the most likely tokens sorted by log probability (at most logprobs + 1, the chosen token included); null at positions without any.',
      resolve: (logprobs) => logprobs.topLogprobs,
    }),
  }),
});

export const CompletionChoiceRef = builder.objectRef<CompletionChoice>('CompletionChoice').implement({
  description: 'One completion the model generated for one prompt.',
  fields: (t) => ({
    text: t.exposeString('text', {
      description: 'The generated text (the new piece of it, on a streamed event).',
    }),
    index: t.exposeInt('index', { description: 'The position of this choice: promptIndex * n + i.' }),
    logprobs: t.expose('logprobs', {
      type: CompletionLogprobsRef,
      nullable: true,
      description: 'Log probabilities of the tokens, when logprobs was asked for.',
    }),
    finishReason: t.expose('finishReason', {
      type: FinishReasonRef,
      nullable: true,
      description: 'Why generation stopped; null only on streamed events before the choice’s last.',
    }),
    finishReasonRaw: t.exposeString('finishReasonRaw', {
      nullable: true,
      description: 'The finish reason exactly as the upstream sent it, for values outside the enum.',
    }),
  }),
});

export const PromptTokensDetailsRef = builder
  .objectRef<PromptTokensDetails>('PromptTokensDetails')
  .implement({
    description:
      'Breakdown of the tokens used in the prompt; a field is null when the upstream does not report it.',
    fields: (t) => ({
      audioTokens: t.exposeInt('audioTokens', {
        nullable: true,
        description: 'Audio input tokens present in the prompt.',
      }),
      cachedTokens: t.exposeInt('cachedTokens', {
        nullable: true,
        description: 'Cached tokens present in the prompt.',
      }),
      textTokens: t.exposeInt('textTokens', {
        nullable: true,
        description: 'Text input tokens present in the prompt.',
      }),
      imageTokens: t.exposeInt('imageTokens', {
        nullable: true,
        description: 'Image input tokens present in the prompt.',
      }),
      cacheWriteTokens: t.exposeInt('cacheWriteTokens', {
        nullable: true,
        description: 'The unadjusted number of prompt tokens written to cache.',
      }),
    }),
  });

export const CompletionTokensDetailsRef = builder
  .objectRef<CompletionTokensDetails>('CompletionTokensDetails')
  .implement({
    description:
      'Breakdown of the tokens used in the completion; a field is null when the upstream does not report it.',
    fields: (t) => ({
      acceptedPredictionTokens: t.exposeInt('acceptedPredictionTokens', {
        nullable: true,
        description: 'With Predicted Outputs, tokens of the prediction that appeared in the completion.',
      }),
      audioTokens: t.exposeInt('audioTokens', {
        nullable: true,
        description: 'Audio tokens generated by the model.',
      }),
      reasoningTokens: t.exposeInt('reasoningTokens', {
        nullable: true,
        description: 'Tokens generated by the model for reasoning.',
      }),
      rejectedPredictionTokens: t.exposeInt('rejectedPredictionTokens', {
        nullable: true,
        description:
          'With Predicted Outputs, tokens of the prediction that did not appear in the completion (still billed).',
      }),
      textTokens: t.exposeInt('textTokens', {
        nullable: true,
        description: 'Text tokens generated by the model.',
      }),
    }),
  });

export const CompletionUsageRef = builder.objectRef<CompletionUsage>('CompletionUsage').implement({
  description:
    'Usage statistics for the completion request. Counts the upstream leaves out are derived from the others, or 0.',
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens', { description: 'Number of tokens in the prompt.' }),
    completionTokens: t.exposeInt('completionTokens', {
      description: 'Number of tokens in the generated completion, summed over all choices.',
    }),
    totalTokens: t.exposeInt('totalTokens', {
      description: 'Total number of tokens used (prompt + completion).',
    }),
    promptTokensDetails: t.expose('promptTokensDetails', {
      type: PromptTokensDetailsRef,
      nullable: true,
      description: 'Breakdown of the prompt tokens, when the upstream reports it.',
    }),
    completionTokensDetails: t.expose('completionTokensDetails', {
      type: CompletionTokensDetailsRef,
      nullable: true,
      description: 'Breakdown of the completion tokens, when the upstream reports it.',
    }),
  }),
});

export const CreateCompletionResponseRef = builder
  .objectRef<Completion>('CreateCompletionResponse')
  .implement({
    description:
      'A completion from the upstream. A streamed event has the same shape (as upstream chunks do): its choices carry the new text only, and usage comes on a last event when asked for.',
    fields: (t) => ({
      id: t.exposeID('id', { description: 'A unique identifier for the completion.' }),
      object: t.exposeString('object', { description: 'The object type, always "text_completion".' }),
      created: t.exposeInt('created', {
        description: 'The Unix timestamp (in seconds) of when the completion was created.',
      }),
      createdAt: t.field({
        type: 'DateTime',
        description: 'When the completion was created, as an ISO 8601 instant (the same moment as created).',
        resolve: (completion) => new Date(completion.created * 1000),
      }),
      model: t.exposeString('model', {
        description:
          'The model used for the completion (the upstream may name a dated snapshot of the requested one).',
      }),
      systemFingerprint: t.exposeString('systemFingerprint', {
        nullable: true,
        description:
          'The backend configuration the model ran with; compare it across calls with the same seed to see changes that affect determinism. Null when the upstream does not send it.',
      }),
      choices: t.expose('choices', {
        type: [CompletionChoiceRef],
        // n × prompts choices; one is the common case a gateway should assume.
        listSize: { assumedSize: 1 },
        description: 'The completion choices the model generated for the prompt(s).',
      }),
      usage: t.expose('usage', {
        type: CompletionUsageRef,
        nullable: true,
        description:
          'Usage statistics; null when the upstream does not report them (and on streamed events but the last).',
      }),
    }),
  });

builder.mutationField('createCompletion', (t) =>
  t.field({
    type: CreateCompletionResponseRef,
    description: 'Creates a completion for the provided prompt and parameters. A paid upstream call.',
    // Priced for gateways' demand control: one upstream LLM call outweighs any read by far.
    cost: completionFieldCost,
    args: { input: t.arg(completionInputArg) },
    resolve: async (_root, _args, context, info) =>
      (
        await context.completions.create(
          plannedCall(context, info),
          completionCallOptions(context, String(info.path.key)),
        )
      ).completion,
  }),
);
