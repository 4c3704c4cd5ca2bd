import type { WireChoice, WireCompletionResponse, WireLogprobs, WireModel, WireUsage } from './wire.js';

/**
 * Checks an upstream 2xx body before anything maps it. Compatible servers differ in what they
 * leave out, so the rule is: refuse a body that lacks what a completion *is* (id, model, choices
 * with text), fill in what can be derived, ignore extra fields. Throws `ShapeError` on refusal.
 */

export class ShapeError extends Error {}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function requireString(obj: Json, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== 'string') throw new ShapeError(`${where}.${key} is not a string`);
  return value;
}

function optionalInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? Math.trunc(value) : undefined;
}

function numberOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function checkLogprobs(value: unknown, where: string): WireLogprobs | null {
  if (value === null || value === undefined) return null;
  if (!isObject(value)) throw new ShapeError(`${where}.logprobs is not an object`);
  const tokens = value.tokens;
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string')) {
    throw new ShapeError(`${where}.logprobs.tokens is not a list of strings`);
  }
  const list = (key: string): unknown[] => {
    const items = value[key];
    if (items === undefined || items === null) return [];
    if (!Array.isArray(items)) throw new ShapeError(`${where}.logprobs.${key} is not a list`);
    return items;
  };
  const topRaw = value.top_logprobs;
  const top =
    topRaw === null || topRaw === undefined
      ? null
      : list('top_logprobs').map((entry) => {
          if (!isObject(entry)) return null;
          const map: Record<string, number> = {};
          for (const [token, logprob] of Object.entries(entry)) {
            if (typeof logprob === 'number' && Number.isFinite(logprob)) map[token] = logprob;
          }
          return map;
        });
  return {
    tokens,
    token_logprobs: list('token_logprobs').map(numberOrNull),
    top_logprobs: top,
    text_offset: list('text_offset').map((offset) => optionalInt(offset) ?? 0),
  };
}

function checkChoice(value: unknown, position: number): WireChoice {
  const where = `choices[${position}]`;
  if (!isObject(value)) throw new ShapeError(`${where} is not an object`);
  const finish = value.finish_reason;
  return {
    text: requireString(value, 'text', where),
    index: optionalInt(value.index) ?? position,
    logprobs: checkLogprobs(value.logprobs, where),
    finish_reason: typeof finish === 'string' && finish !== '' ? finish : null,
  };
}

function checkDetails(value: unknown): Record<string, number | undefined> | null {
  if (!isObject(value)) return null;
  const out: Record<string, number | undefined> = {};
  for (const [key, count] of Object.entries(value)) out[key] = optionalInt(count);
  return out;
}

/** Missing counts are derived where the others allow it (a recorded body omits zero completion tokens). */
export function checkUsage(value: unknown): WireUsage | null {
  if (!isObject(value)) return null;
  const prompt = optionalInt(value.prompt_tokens);
  const completion = optionalInt(value.completion_tokens);
  const total = optionalInt(value.total_tokens);
  const promptTokens = prompt ?? (total !== undefined ? Math.max(0, total - (completion ?? 0)) : 0);
  const completionTokens = completion ?? (total !== undefined ? Math.max(0, total - promptTokens) : 0);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: total ?? promptTokens + completionTokens,
    prompt_tokens_details: checkDetails(value.prompt_tokens_details),
    completion_tokens_details: checkDetails(value.completion_tokens_details),
  };
}

/** Checks a whole completion or one streamed chunk (same shape; chunks may carry zero choices). */
export function checkCompletion(body: unknown, now: () => number = Date.now): WireCompletionResponse {
  if (!isObject(body)) throw new ShapeError('body is not a JSON object');
  if (!Array.isArray(body.choices)) throw new ShapeError('choices is missing');
  const fingerprint = body.system_fingerprint;
  return {
    id: requireString(body, 'id', 'body'),
    object: typeof body.object === 'string' ? body.object : 'text_completion',
    created: optionalInt(body.created) ?? Math.floor(now() / 1000),
    model: requireString(body, 'model', 'body'),
    system_fingerprint: typeof fingerprint === 'string' ? fingerprint : null,
    choices: body.choices.map(checkChoice),
    usage: checkUsage(body.usage),
  };
}

export function checkModelList(body: unknown): WireModel[] {
  if (!isObject(body) || !Array.isArray(body.data)) throw new ShapeError('data is missing');
  return body.data.filter(isObject).flatMap((model): WireModel[] => {
    if (typeof model.id !== 'string' || model.id === '') return [];
    return [
      {
        id: model.id,
        object: typeof model.object === 'string' ? model.object : 'model',
        created: optionalInt(model.created) ?? 0,
        owned_by: typeof model.owned_by === 'string' ? model.owned_by : '',
      },
    ];
  });
}
