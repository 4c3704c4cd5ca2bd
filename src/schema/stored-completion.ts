import type { CompletionRequestInput, PromptInput } from '../completions/model.js';
import { builder } from './builder.js';
import { CreateCompletionResponseRef } from './completion.js';

/**
 * Stored completions: readable by id here and, as a federation entity, from any other subgraph
 * (a `Document.generatedBy` can point at one). Reads come from storage only, never the upstream,
 * and only from the calling client's records (`context.storedCompletion`): an id another client
 * stored answers null exactly as an unknown one does, so ids cannot be probed for existence.
 */

const PromptRef = builder.objectRef<PromptInput>('Prompt').implement({
  description: 'The prompt a stored completion was made from: exactly one of the fields is set.',
  fields: (t) => ({
    text: t.string({ nullable: true, description: 'One prompt as text.', resolve: (p) => p.text ?? null }),
    texts: t.stringList({
      nullable: true,
      description: 'Several prompts as text.',
      resolve: (p) => (p.texts ? [...p.texts] : null),
    }),
    tokens: t.intList({
      nullable: true,
      description: 'One prompt as token ids.',
      resolve: (p) => (p.tokens ? [...p.tokens] : null),
    }),
    tokenBatches: t.field({
      type: t.listRef(t.listRef('Int')),
      nullable: true,
      description: 'Several prompts as token ids.',
      resolve: (p) => (p.tokenBatches ? p.tokenBatches.map((batch) => [...batch]) : null),
    }),
  }),
});

const CompletionParametersRef = builder.objectRef<CompletionRequestInput>('CompletionParameters').implement({
  description: 'The parameters a stored completion was created with (as sent; unset ones are null).',
  fields: (t) => ({
    model: t.exposeString('model', { description: 'The model asked for.' }),
    prompt: t.expose('prompt', { type: PromptRef, description: 'The prompt(s).' }),
    suffix: t.string({
      nullable: true,
      description: 'The suffix after inserted text.',
      resolve: (p) => p.suffix ?? null,
    }),
    maxTokens: t.int({
      nullable: true,
      description: 'The most tokens to generate.',
      resolve: (p) => p.maxTokens ?? null,
    }),
    temperature: t.float({
      nullable: true,
      description: 'Sampling temperature.',
      resolve: (p) => p.temperature ?? null,
    }),
    topP: t.float({ nullable: true, description: 'Nucleus sampling mass.', resolve: (p) => p.topP ?? null }),
    n: t.int({ nullable: true, description: 'Completions per prompt.', resolve: (p) => p.n ?? null }),
    logprobs: t.int({
      nullable: true,
      description: 'Top log probabilities asked for.',
      resolve: (p) => p.logprobs ?? null,
    }),
    echo: t.boolean({
      nullable: true,
      description: 'Whether the prompt was echoed.',
      resolve: (p) => p.echo ?? null,
    }),
    stop: t.stringList({
      nullable: true,
      description: 'Stop sequences.',
      resolve: (p) => (p.stop ? [...p.stop] : null),
    }),
    presencePenalty: t.float({
      nullable: true,
      description: 'Presence penalty.',
      resolve: (p) => p.presencePenalty ?? null,
    }),
    frequencyPenalty: t.float({
      nullable: true,
      description: 'Frequency penalty.',
      resolve: (p) => p.frequencyPenalty ?? null,
    }),
    bestOf: t.int({
      nullable: true,
      description: 'Candidates generated server-side.',
      resolve: (p) => p.bestOf ?? null,
    }),
    user: t.string({ nullable: true, description: 'The end-user id sent.', resolve: (p) => p.user ?? null }),
    seed: t.int({ nullable: true, description: 'The sampling seed.', resolve: (p) => p.seed ?? null }),
  }),
});

builder.objectFields(CreateCompletionResponseRef, (t) => ({
  storedAt: t.field({
    type: 'DateTime',
    nullable: true,
    description:
      'When the completion was stored; null when it was not (input.store was not true, or extensions.warnings says why).',
    resolve: (completion) => completion.storedAt ?? null,
  }),
  parameters: t.field({
    type: CompletionParametersRef,
    nullable: true,
    description: 'The request parameters, on a stored completion read back by id; null otherwise.',
    resolve: (completion) => completion.parameters ?? null,
  }),
}));

builder.asEntity(CreateCompletionResponseRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (reference, context) => context.storedCompletion(reference.id),
});

builder.queryField('completion', (t) =>
  t.field({
    type: CreateCompletionResponseRef,
    nullable: true,
    description:
      'A stored completion of the calling client, by id (created with input.store: true), or null when this client stored none with that id.',
    args: { id: t.arg.id({ required: true, description: 'The completion id (cmpl-...).' }) },
    resolve: (_root, { id }, context) => context.storedCompletion(String(id)),
  }),
);
