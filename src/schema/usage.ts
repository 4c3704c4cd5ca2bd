import { roundUsd } from '../completions/prices.js';
import type { UsageEntry } from '../storage/index.js';
import { builder } from './builder.js';

/** The calling client's token ledger: what it has spent, per model. */

interface ClientUsage {
  client: string;
  byModel: UsageEntry[];
}

const ModelUsageRef = builder.objectRef<UsageEntry>('ModelUsage').implement({
  description: 'Tokens a client used with one model, since the ledger began.',
  fields: (t) => ({
    model: t.exposeString('model', { description: 'The model as the upstream named it in its answers.' }),
    requests: t.exposeInt('requests', {
      description: 'Billed calls, those that ended in an error after the upstream may have billed included.',
    }),
    cachedRequests: t.exposeInt('cachedRequests', {
      description:
        'Prompt-template results served from the cache: no upstream call, no tokens and no cost (not in requests).',
    }),
    promptTokens: t.exposeInt('promptTokens', { description: 'Tokens in (prompts).' }),
    completionTokens: t.exposeInt('completionTokens', { description: 'Tokens out (generated).' }),
    totalTokens: t.int({
      description: 'Tokens in and out.',
      resolve: (u) => u.promptTokens + u.completionTokens,
    }),
    costUsd: t.float({
      nullable: true,
      description:
        'What these calls cost in USD, priced when each was made; null when some were on a model without a price.',
      resolve: (u) => (u.costUsd === null ? null : roundUsd(u.costUsd)),
    }),
    firstAt: t.field({
      type: 'DateTime',
      description: 'The first recorded request.',
      resolve: (u) => u.firstAt,
    }),
    lastAt: t.field({
      type: 'DateTime',
      description: 'The latest recorded request.',
      resolve: (u) => u.lastAt,
    }),
  }),
});

const ClientUsageRef = builder.objectRef<ClientUsage>('ClientUsage').implement({
  description: 'The calling client’s usage ledger.',
  fields: (t) => ({
    client: t.exposeString('client', {
      description: 'The client’s name (anonymous when the service runs open).',
    }),
    byModel: t.expose('byModel', { type: [ModelUsageRef], description: 'Usage per model, sorted by model.' }),
    promptTokens: t.int({
      description: 'Tokens in, all models.',
      resolve: (u) => sum(u.byModel, 'promptTokens'),
    }),
    completionTokens: t.int({
      description: 'Tokens out, all models.',
      resolve: (u) => sum(u.byModel, 'completionTokens'),
    }),
    costUsd: t.float({
      nullable: true,
      description: 'What all calls cost in USD; null when some were on a model without a price.',
      resolve: (u) =>
        u.byModel.some((entry) => entry.costUsd === null)
          ? null
          : roundUsd(u.byModel.reduce((total, entry) => total + (entry.costUsd ?? 0), 0)),
    }),
    totalTokens: t.int({
      description: 'Tokens in and out, all models.',
      resolve: (u) => sum(u.byModel, 'promptTokens') + sum(u.byModel, 'completionTokens'),
    }),
  }),
});

function sum(entries: readonly UsageEntry[], key: 'promptTokens' | 'completionTokens'): number {
  return entries.reduce((total, entry) => total + entry[key], 0);
}

builder.queryField('usage', (t) =>
  t.field({
    type: ClientUsageRef,
    description: 'Token usage of the calling client, per model. Each client sees only its own.',
    resolve: async (_root, _args, context) => ({
      client: context.client.name,
      byModel: context.usage ? await context.usage.forClient(context.client.name) : [],
    }),
  }),
);
