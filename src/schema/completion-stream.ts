import { extended } from '../runtime/objects.js';
import { builder } from './builder.js';
import { cancellableStream, completionCallOptions, plannedCall } from './call-options.js';
import { CreateCompletionResponseRef, completionFieldCost } from './completion.js';
import { completionInputArg } from './inputs.js';

builder.subscriptionField('completionStream', (t) =>
  t.field({
    type: CreateCompletionResponseRef,
    description:
      'Streams a completion as it is generated: one event per upstream chunk, in the same shape as a whole completion ' +
      '(the upstream uses one shape for both), with each choice carrying only its new text and finishReason on its last event. ' +
      'With streamOptions.includeUsage, a last event with no choices carries the usage. bestOf above 1 cannot be streamed.',
    cost: completionFieldCost,
    args: { input: t.arg(completionInputArg) },
    subscribe: (_root, _args, context, info) => {
      const call = plannedCall(context, info);
      return cancellableStream(context, (signal) =>
        context.completions.stream(
          call,
          extended(completionCallOptions(context, String(info.path.key)), { signal }),
        ),
      );
    },
    resolve: (chunk) => chunk,
  }),
);
