import { type CompletionInput, type ParamName, paramSpecs } from './params.js';

/**
 * What the playground sends, written out as a user would send it: the subscription, its variables,
 * the same request as curl, and which control a server error is about.
 */

export const streamDocument = `subscription PlaygroundRun($input: CreateCompletionInput!) {
  completionStream(input: $input) {
    id
    model
    choices {
      index
      text
      finishReason
      logprobs { tokens tokenLogprobs textOffset topLogprobs { token logprob } }
    }
    usage { promptTokens completionTokens totalTokens }
  }
}`;

export interface OperationBody {
  query: string;
  operationName: string;
  variables: { input: CompletionInput };
}

export function operationBody(input: CompletionInput): OperationBody {
  return { query: streamDocument, operationName: 'PlaygroundRun', variables: { input } };
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The same request from a terminal. The key is never written out: `$CLIENT_KEY` stands for it. */
export function curlCommand(url: string, body: OperationBody, withKey: boolean): string {
  return [
    `curl -N ${shellQuote(url)}`,
    `  -H 'content-type: application/json'`,
    `  -H 'accept: text/event-stream'`,
    ...(withKey ? ['  -H "authorization: Bearer $CLIENT_KEY"'] : []),
    `  --data-raw ${shellQuote(JSON.stringify(body))}`,
  ].join(' \\\n');
}

const controlNames = new Set<string>([...paramSpecs.map((spec) => spec.name), 'model', 'prompt']);

/**
 * Which control a server error is about: `extensions.argument` (`input.temperature`), or for a
 * variable that did not coerce, the path in its message (`at "input.logitBias[0].bias"`).
 */
export function controlForError(error: {
  message: string;
  extensions?: Record<string, unknown> | undefined;
}): ParamName | 'model' | 'prompt' | undefined {
  const argument = error.extensions?.argument;
  const path = typeof argument === 'string' ? argument : /at "(input\.[A-Za-z]+)/.exec(error.message)?.[1];
  const name = path?.replace(/^input\./, '').split(/[.[]/, 1)[0];
  return name !== undefined && controlNames.has(name) ? (name as ParamName | 'model' | 'prompt') : undefined;
}
