import { countTokens } from 'gpt-tokenizer/encoding/cl100k_base';
import type { WireCompletionRequest } from '../upstream/wire.js';

/**
 * What a completion can cost at most, in tokens, known before the call: the prompts (and suffix)
 * as they are plus the most the model may generate for them. It prices an operation against its
 * ceiling and reserves the client's token budget, so it must never under-count, and it runs on
 * untrusted text, so its work per request is bounded.
 */

/**
 * Exact counting is BPE over each pre-token, whose cost grows with the square of the pre-token's
 * length (a 4,000-character run of CJK letters takes ~100 ms here). Text with a run of letters,
 * symbols or spaces longer than this is priced by its bytes instead.
 */
const maxExactRun = 128;

/** Characters counted exactly per operation; past it every prompt is priced by its bytes. */
export const exactCharsPerOperation = 32_768;

/**
 * Every cl100k token covers at least one UTF-8 byte and the tokens of a text cover its bytes
 * exactly once, so the byte length is an upper bound of the token count, whatever the text.
 */
function byteBound(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

const asText = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

/** Whitespace as the tokenizer's pre-splitting sees it, for the characters that matter in practice. */
function isSpace(code: number): boolean {
  return (
    code <= 32 ||
    code === 0x85 ||
    code === 0xa0 ||
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x2028 ||
    code === 0x2029 ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000
  );
}

/** Whether no run of spaces or non-spaces is longer than `maxExactRun` (one linear pass). */
function hasOnlyShortRuns(text: string): boolean {
  let run = 0;
  let previous = false;
  for (let i = 0; i < text.length; i++) {
    const space = isSpace(text.charCodeAt(i));
    run = i > 0 && space === previous ? run + 1 : 1;
    if (run > maxExactRun) return false;
    previous = space;
  }
  return true;
}

/**
 * Exact counts of recent prompts, by client and text: a prompt a client sends again (a template
 * asked with the same arguments, as the result cache answers it without a call) is not tokenized
 * again — its BPE was 13 µs of a cached answer's ~190. Per client, so that how fast a prompt is
 * priced tells no client what another one sent. Bounded: texts of up to `maxChars`, the oldest of
 * `entries` let go first.
 */
export class RecentTokenCounts {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly entries = 1_024,
    private readonly maxChars = 4_096,
  ) {}

  count(client: string, text: string): number {
    if (text.length > this.maxChars) return countTokens(text, asText);
    const key = `${client}\u0000${text}`;
    const known = this.counts.get(key);
    if (known !== undefined) return known;
    // `<|endoftext|>` in a prompt is text to price, not a reason to throw (the library's default).
    const counted = countTokens(text, asText);
    if (this.counts.size >= this.entries) this.counts.delete(this.counts.keys().next().value as string);
    this.counts.set(key, counted);
    return counted;
  }

  get size(): number {
    return this.counts.size;
  }
}

const recentCounts = new RecentTokenCounts();

/**
 * Counts the prompts of one operation: exactly while its budget of characters lasts and the text
 * is cheap to tokenize, by the byte bound otherwise. One counter per operation, shared by its fields.
 */
export class PromptCounter {
  private remaining: number;

  /** `client`: whose operation this is, for its recent prompts' counts (none: nothing kept). */
  constructor(
    exactChars = exactCharsPerOperation,
    private readonly client?: string,
  ) {
    this.remaining = exactChars;
  }

  count(text: string): number {
    if (text.length > this.remaining || !hasOnlyShortRuns(text)) return byteBound(text);
    this.remaining -= text.length;
    // `<|endoftext|>` in a prompt is text to price, not a reason to throw (the library's default).
    return this.client === undefined ? countTokens(text, asText) : recentCounts.count(this.client, text);
  }
}

export interface CostEstimate {
  promptCount: number;
  /** Every prompt plus the suffix sent with each. */
  promptTokens: number;
  /** Everything the upstream may generate and bill: max(maxTokens, 1) per choice, every choice. */
  maxCompletionTokens: number;
  totalTokens: number;
}

function promptList(prompt: WireCompletionRequest['prompt']): (string | number[])[] {
  if (typeof prompt === 'string') return [prompt];
  if (prompt.length === 0) return [];
  if (Array.isArray(prompt[0])) return prompt as number[][];
  if (typeof prompt[0] === 'string') return prompt as string[];
  return [prompt as number[]];
}

/**
 * Works on the wire request, so the GraphQL API and the REST face price a call the same way. The
 * request must carry `max_tokens` (the service always sends one, see `prepare.ts`).
 */
export function estimateCompletionCost(
  request: WireCompletionRequest,
  counter: PromptCounter = new PromptCounter(),
): CostEstimate {
  const prompts = promptList(request.prompt);
  const promptCount = Math.max(1, prompts.length);
  let promptTokens = 0;
  for (const prompt of prompts)
    promptTokens += typeof prompt === 'string' ? counter.count(prompt) : prompt.length;
  if (request.suffix) promptTokens += counter.count(request.suffix) * promptCount;
  // best_of candidates are generated (and billed) even though only n come back.
  const choices = promptCount * Math.max(request.n ?? 1, request.best_of ?? 1);
  // A choice costs work even with max_tokens 0 (echo returns the prompt in each of them). Without
  // max_tokens nothing bounds the generation (llama.cpp, Ollama): priced as unbounded, refused.
  const perChoice = Math.max(1, request.max_tokens ?? Number.POSITIVE_INFINITY);
  const maxCompletionTokens = choices * perChoice;
  return { promptCount, promptTokens, maxCompletionTokens, totalTokens: promptTokens + maxCompletionTokens };
}
