/**
 * Reads and type-checks the untrusted JSON body of `POST /v1/completions`, field by field, into a
 * `WireCompletionRequest`. `null` means "not given", as in OpenAI's API. Range checks are left to
 * the injected `validate()`; this only guarantees the types the engine relies on.
 */
import type { IncomingMessage } from 'node:http';
import { readLimitedBody } from '../http/body-limit.js';
import { mediaTypes } from '../http/headers.js';
import type { WireCompletionRequest, WirePrompt } from '../upstream/wire.js';

export class BadRequest extends Error {
  constructor(
    message: string,
    readonly param: string | null = null,
    readonly status = 400,
    readonly code: string | null = null,
  ) {
    super(message);
  }
}

export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  // Only JSON: a text/plain or form POST is one a browser sends cross-site without a preflight, so
  // any page could otherwise spend this server's upstream key through a visitor's browser.
  const type = req.headers['content-type'] ?? '';
  if (mediaTypes(type)[0] !== 'application/json') {
    throw new BadRequest(
      `Invalid Content-Type header (${type || 'none'}): expected application/json.`,
      null,
      415,
      'unsupported_media_type',
    );
  }
  const body = await readLimitedBody(req, maxBytes);
  if (body === 'too-large')
    throw new BadRequest(`Request body exceeds ${maxBytes} bytes.`, null, 413, 'payload_too_large');
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new BadRequest(
      "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your " +
        'HTTP library correctly. The OpenAI API expects a JSON payload.)',
    );
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function wrongType(param: string, expected: string, value: unknown): BadRequest {
  const got =
    value === null
      ? 'null'
      : Array.isArray(value)
        ? 'array'
        : typeof value === 'number' && !Number.isFinite(value)
          ? 'a number out of range' // 1e400 parses as Infinity
          : typeof value;
  return new BadRequest(`Invalid type for '${param}': expected ${expected}, but got ${got}.`, param);
}

function parsePrompt(value: unknown): WirePrompt {
  const expected = 'a string, an array of strings, an array of integers, or an array of integer arrays';
  if (typeof value === 'string') return value;
  if (!Array.isArray(value)) throw wrongType('prompt', expected, value);
  if (value.every((v) => typeof v === 'string')) return value as string[];
  if (value.every(isInt)) return value as number[];
  if (value.every((v) => Array.isArray(v) && v.every(isInt))) return value as number[][];
  throw wrongType('prompt', expected, value);
}

type Field = keyof WireCompletionRequest;
const NUMBER_FIELDS = ['temperature', 'top_p', 'presence_penalty', 'frequency_penalty'] as const;
const INT_FIELDS = ['max_tokens', 'n', 'logprobs', 'best_of', 'seed'] as const;
const BOOL_FIELDS = ['echo', 'stream'] as const;
const STRING_FIELDS = ['suffix', 'user'] as const;
const KNOWN = new Set<string>([
  'model',
  'prompt',
  'stop',
  'logit_bias',
  'stream_options',
  ...NUMBER_FIELDS,
  ...INT_FIELDS,
  ...BOOL_FIELDS,
  ...STRING_FIELDS,
] satisfies Field[]);

export function parseCompletionRequest(body: unknown): WireCompletionRequest {
  if (!isObject(body)) throw new BadRequest('The request body must be a JSON object.');
  for (const key of Object.keys(body)) {
    if (!KNOWN.has(key)) throw new BadRequest(`Unrecognized request argument supplied: ${key}`, key);
  }
  const { model, prompt } = body;
  if (model === undefined || model === null)
    throw new BadRequest("Missing required parameter: 'model'.", 'model');
  if (typeof model !== 'string') throw wrongType('model', 'a string', model);
  if (prompt === undefined || prompt === null)
    throw new BadRequest("Missing required parameter: 'prompt'.", 'prompt');
  const out: WireCompletionRequest = { model, prompt: parsePrompt(prompt) };
  const given = (key: string) => body[key] !== undefined && body[key] !== null;
  for (const key of NUMBER_FIELDS) {
    if (!given(key)) continue;
    const v = body[key];
    if (!isNum(v)) throw wrongType(key, 'a number', v);
    out[key] = v;
  }
  for (const key of INT_FIELDS) {
    if (!given(key)) continue;
    const v = body[key];
    if (!isInt(v)) throw wrongType(key, 'an integer', v);
    out[key] = v;
  }
  for (const key of BOOL_FIELDS) {
    if (!given(key)) continue;
    const v = body[key];
    if (typeof v !== 'boolean') throw wrongType(key, 'a boolean', v);
    out[key] = v;
  }
  for (const key of STRING_FIELDS) {
    if (!given(key)) continue;
    const v = body[key];
    if (typeof v !== 'string') throw wrongType(key, 'a string', v);
    out[key] = v;
  }
  if (given('stop')) {
    const v = body.stop;
    if (typeof v === 'string') out.stop = [v];
    else if (Array.isArray(v) && v.every((s) => typeof s === 'string')) out.stop = v as string[];
    else throw wrongType('stop', 'a string or an array of strings', v);
  }
  if (given('logit_bias')) {
    const v = body.logit_bias;
    if (!isObject(v)) throw wrongType('logit_bias', 'an object', v);
    const entries = Object.entries(v);
    for (const [token, value] of entries) {
      if (!isNum(value)) throw wrongType(`logit_bias.${token}`, 'a number', value);
    }
    // Own properties whatever their names: assigned one by one, `__proto__` vanished unchecked.
    out.logit_bias = Object.fromEntries(entries) as Record<string, number>;
  }
  if (given('stream_options')) {
    const v = body.stream_options;
    if (!isObject(v)) throw wrongType('stream_options', 'an object', v);
    const include = v.include_usage;
    if (include !== undefined && include !== null && typeof include !== 'boolean') {
      throw wrongType('stream_options.include_usage', 'a boolean', include);
    }
    out.stream_options = typeof include === 'boolean' ? { include_usage: include } : {};
  }
  return out;
}
