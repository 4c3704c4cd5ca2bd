import type { WireCompletionRequest } from '../upstream/wire.js';

/**
 * Tokens a call may use, for a deployment's tokens-per-minute budget when the caller did not say
 * (the service passes its exact price). About four characters a token for text, the most the
 * model may generate for each choice: cheap, since it runs on every routed call.
 */
export function roughTokenEstimate(wire: WireCompletionRequest): number {
  const prompts =
    typeof wire.prompt === 'string' || typeof wire.prompt[0] === 'number' ? [wire.prompt] : wire.prompt;
  let promptTokens = 0;
  for (const prompt of prompts) {
    promptTokens +=
      typeof prompt === 'string' ? Math.ceil(prompt.length / 4) : Array.isArray(prompt) ? prompt.length : 1;
  }
  const choices = Math.max(wire.n ?? 1, wire.best_of ?? 1) * prompts.length;
  return promptTokens + Math.max(wire.max_tokens ?? 16, 1) * choices;
}
