import type { Model } from '../completions/model.js';
import type { ModelDeploymentStatus } from '../completions/model-catalog.js';
import { builder } from './builder.js';

const circuitStates = {
  CLOSED: { value: 'closed', description: 'Calls go out.' },
  OPEN: { value: 'open', description: 'Most recent calls failed: skipped until its cool-down ends.' },
  HALF_OPEN: { value: 'half-open', description: 'Cool-down over: one probe call decides.' },
} as const;

const CircuitStateRef = builder.enumType('CircuitState', {
  description: "A deployment's circuit breaker.",
  values: circuitStates,
});

const DeploymentKindRef = builder.enumType('DeploymentKind', {
  description: 'What a deployment is.',
  values: {
    OPENAI: { value: 'openai', description: 'An OpenAI-compatible HTTP API.' },
    LOCAL: { value: 'local', description: 'The embedded local engine.' },
  } as const,
});

const ModelDeploymentRef = builder.objectRef<ModelDeploymentStatus>('ModelDeployment').implement({
  description: 'A deployment that serves a model, and its state now.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The deployment’s name (UPSTREAMS_FILE).' }),
    kind: t.field({
      type: DeploymentKindRef,
      description: 'HTTP or the local engine.',
      resolve: (d) => d.kind,
    }),
    model: t.exposeString('model', { description: 'The name the deployment knows the model by.' }),
    group: t.exposeInt('group', {
      description: 'Position of its group in the route: 0 is tried first, later groups are fallbacks.',
    }),
    circuit: t.field({
      type: CircuitStateRef,
      description: 'Its own circuit breaker: an open one is skipped, not waited on.',
      resolve: (d) => d.state,
    }),
    outstanding: t.exposeInt('outstanding', {
      nullable: true,
      description: 'Calls in flight from this instance; null when not counted (a single upstream).',
    }),
    remainingRequests: t.exposeInt('remainingRequests', {
      nullable: true,
      description: 'Requests left in its per-minute budget on this instance; null without one.',
    }),
    remainingTokens: t.exposeInt('remainingTokens', {
      nullable: true,
      description: 'Estimated tokens left in its per-minute budget on this instance; null without one.',
    }),
    rateLimitedUntil: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'Skipped until then: it answered 429 with a retry-after.',
      resolve: (d) => d.rateLimitedUntil,
    }),
  }),
});

export const ModelRef = builder.objectRef<Model>('Model').implement({
  description: 'A model the upstream offers. Federated: other subgraphs can reference a model by id.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The model identifier, usable as CreateCompletionInput.model.' }),
    object: t.exposeString('object', { description: 'The object type, always "model".' }),
    created: t.exposeInt('created', {
      nullable: true,
      description:
        'The Unix timestamp (in seconds) when the model was created; null when the upstream does not say.',
    }),
    ownedBy: t.exposeString('ownedBy', {
      nullable: true,
      description: 'The organization that owns the model; null when the upstream does not say.',
    }),
    deployments: t.field({
      type: [ModelDeploymentRef],
      description:
        'The deployments that serve this model, in the order they are tried, with their state now (UPSTREAMS_FILE; otherwise the one upstream).',
      listSize: { assumedSize: 4 },
      resolve: (model, _args, context) => context.models.deployments(model.id),
    }),
  }),
});

builder.asEntity(ModelRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (reference, context) => context.models.get(reference.id, context.client.name),
});

builder.queryFields((t) => ({
  models: t.field({
    type: [ModelRef],
    description:
      'The models the calling client may ask for (its key’s models= when set): the public names of UPSTREAMS_FILE, or the upstream’s list (cached for a minute).',
    listSize: { assumedSize: 20 },
    resolve: (_root, _args, context) => context.models.list(context.client.name),
  }),
  model: t.field({
    type: ModelRef,
    nullable: true,
    description: 'One model by id, or null when it is not offered.',
    args: { id: t.arg.id({ required: true, description: 'The model identifier.' }) },
    resolve: (_root, { id }, context) => context.models.get(String(id), context.client.name),
  }),
}));
