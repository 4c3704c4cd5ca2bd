import type { WireCompletionRequest } from '../upstream/wire.js';

/**
 * Every documented range and cross-field rule of the Completions API, checked before any paid
 * call. Works on the wire request so the GraphQL API and the REST face share one rule set.
 */

export interface RequestViolation {
  /** The wire parameter at fault (`temperature`, `logit_bias`, `prompt`). */
  param: string;
  /** What is wrong, phrased to follow the parameter's name. */
  problem: string;
}

export class InvalidRequestError extends Error {
  constructor(readonly violation: RequestViolation) {
    super(`${violation.param} ${violation.problem}`);
    this.name = 'InvalidRequestError';
  }
}

export const limits = {
  maxStopSequences: 4,
  maxLogitBiasEntries: 300,
  maxN: 128,
  maxBestOf: 20,
  maxLogprobs: 5,
} as const;

function range(
  param: string,
  value: number | undefined,
  min: number,
  max: number,
): RequestViolation | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value < min || value > max) {
    return { param, problem: `must be between ${min} and ${max} (got ${value}).` };
  }
  return undefined;
}

function integer(
  param: string,
  value: number | undefined,
  min: number,
  max: number,
): RequestViolation | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value)) return { param, problem: `must be a whole number (got ${value}).` };
  return range(param, value, min, max);
}

function checkPrompt(prompt: WireCompletionRequest['prompt']): RequestViolation | undefined {
  if (typeof prompt === 'string') return undefined;
  if (!Array.isArray(prompt))
    return { param: 'prompt', problem: 'must be a string, strings, tokens or token batches.' };
  if (prompt.length === 0) return { param: 'prompt', problem: 'must not be an empty list.' };
  const isToken = (t: unknown) => typeof t === 'number' && Number.isInteger(t) && t >= 0;
  if (prompt.every((p) => typeof p === 'string')) return undefined;
  if (prompt.every(isToken)) return undefined;
  if (prompt.every(Array.isArray)) {
    for (const [i, batch] of (prompt as unknown[][]).entries()) {
      if (batch.length === 0) return { param: 'prompt', problem: `token batch ${i} must not be empty.` };
      if (!batch.every(isToken))
        return { param: 'prompt', problem: `token batch ${i} must hold token ids (whole numbers ≥ 0).` };
    }
    return undefined;
  }
  return {
    param: 'prompt',
    problem: 'must hold only strings, only token ids (whole numbers ≥ 0) or only token batches.',
  };
}

function checkLogitBias(bias: Record<string, number> | undefined): RequestViolation | undefined {
  if (bias === undefined) return undefined;
  const entries = Object.entries(bias);
  if (entries.length > limits.maxLogitBiasEntries) {
    return {
      param: 'logit_bias',
      problem: `must have at most ${limits.maxLogitBiasEntries} entries (got ${entries.length}).`,
    };
  }
  for (const [token, value] of entries) {
    if (!/^\d+$/.test(token))
      return { param: 'logit_bias', problem: `keys must be token ids (got "${token}").` };
    if (!Number.isFinite(value) || value < -100 || value > 100) {
      return {
        param: 'logit_bias',
        problem: `values must be between -100 and 100 (token ${token} has ${value}).`,
      };
    }
  }
  return undefined;
}

export const MAX_MODEL_NAME_CHARS = 256;

export function findViolation(request: WireCompletionRequest): RequestViolation | undefined {
  if (typeof request.model !== 'string' || request.model.trim() === '') {
    return { param: 'model', problem: 'must name a model.' };
  }
  // A model name goes upstream, into the ledger and into access lines: no model has a longer one.
  if (request.model.length > MAX_MODEL_NAME_CHARS) {
    return { param: 'model', problem: `must be at most ${MAX_MODEL_NAME_CHARS} characters.` };
  }
  const n = request.n ?? 1;
  const stop = request.stop;
  return (
    checkPrompt(request.prompt) ??
    range('temperature', request.temperature, 0, 2) ??
    range('top_p', request.top_p, 0, 1) ??
    integer('n', request.n, 1, limits.maxN) ??
    integer('logprobs', request.logprobs, 0, limits.maxLogprobs) ??
    integer('best_of', request.best_of, 1, limits.maxBestOf) ??
    (request.best_of !== undefined && request.best_of < n
      ? { param: 'best_of', problem: `must be at least n (${n}); got ${request.best_of}.` }
      : undefined) ??
    (stop !== undefined && stop.length > limits.maxStopSequences
      ? {
          param: 'stop',
          problem: `must have at most ${limits.maxStopSequences} sequences (got ${stop.length}).`,
        }
      : undefined) ??
    (stop?.some((s) => s === '') ? { param: 'stop', problem: 'sequences must not be empty.' } : undefined) ??
    range('presence_penalty', request.presence_penalty, -2, 2) ??
    range('frequency_penalty', request.frequency_penalty, -2, 2) ??
    checkLogitBias(request.logit_bias) ??
    integer('max_tokens', request.max_tokens, 0, Number.MAX_SAFE_INTEGER) ??
    (request.max_tokens === 0 && request.echo !== true
      ? { param: 'max_tokens', problem: 'may be 0 only with echo (nothing would be generated or returned).' }
      : undefined) ??
    integer('seed', request.seed, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER) ??
    (request.stream_options !== undefined && request.stream !== true
      ? { param: 'stream_options', problem: 'is only allowed on a streamed completion.' }
      : undefined) ??
    (request.stream === true && (request.best_of ?? 1) > 1
      ? {
          param: 'best_of',
          problem: 'must be 1 on a streamed completion: best_of results cannot be streamed.',
        }
      : undefined)
  );
}

export function assertValidRequest(request: WireCompletionRequest): void {
  const violation = findViolation(request);
  if (violation !== undefined) throw new InvalidRequestError(violation);
}
