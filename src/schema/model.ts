import type { Model } from '../completions/model.js';
import { builder } from './builder.js';

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
  }),
});

builder.asEntity(ModelRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (reference, context) => context.models.get(reference.id),
});

builder.queryFields((t) => ({
  models: t.field({
    type: [ModelRef],
    description: 'The models the upstream offers (cached for a minute).',
    listSize: { assumedSize: 20 },
    resolve: (_root, _args, context) => context.models.list(),
  }),
  model: t.field({
    type: ModelRef,
    nullable: true,
    description: 'One model by id, or null when the upstream does not offer it.',
    args: { id: t.arg.id({ required: true, description: 'The model identifier.' }) },
    resolve: (_root, { id }, context) => context.models.get(String(id)),
  }),
}));
