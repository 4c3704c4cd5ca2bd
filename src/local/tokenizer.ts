/**
 * The local engine's tokenizer: OpenAI's cl100k_base, the encoding of gpt-3.5-turbo-instruct,
 * davinci-002 and babbage-002 (the models still served on `/v1/completions`), so token ids in
 * `logit_bias` and token prompts mean the same token as they would upstream.
 */
import bpeRanks from 'gpt-tokenizer/bpeRanks/cl100k_base';
import { EndOfText, encode } from 'gpt-tokenizer/encoding/cl100k_base';

export { EndOfText };

export const ENCODING_NAME = 'cl100k_base';
/** `<|endoftext|>`: separates documents in training and ends a completion when sampled. */
export const EOT = 100257;
/** Ids below this are ordinary BPE tokens; 100256 is a hole in cl100k_base. */
const REGULAR_TOKENS = 100256;
/** Length of every dense per-token array: ids 0..100257. */
export const VOCAB_ARRAY_SIZE = EOT + 1;
/** Tokens the model can assign probability to: the regular ones plus end-of-text. */
export const VOCAB_SIZE = REGULAR_TOKENS + 1;

export function isVocabToken(id: number): boolean {
  return Number.isInteger(id) && ((id >= 0 && id < REGULAR_TOKENS) || id === EOT);
}

/** The longest token, in UTF-8 bytes (a run of spaces): a text of b bytes has at least b / 128 tokens. */
export const MAX_TOKEN_BYTES = 128;
/** The most non-ASCII bytes in one token (16 em dashes): bounds the tokens of non-Latin text. */
export const MAX_TOKEN_NON_ASCII_BYTES = 48;

/**
 * A lower bound of the tokens in `text` from its length alone, so an oversized prompt is refused
 * without tokenizing it. UTF-8 bytes minus UTF-16 units counts at most the text's non-ASCII bytes.
 */
export function minTokens(text: string): number {
  const bytes = Buffer.byteLength(text, 'utf8');
  return Math.max(
    Math.ceil(bytes / MAX_TOKEN_BYTES),
    Math.ceil((bytes - text.length) / MAX_TOKEN_NON_ASCII_BYTES),
  );
}

/** Special-token spellings are plain text: no throw on user input. */
const PLAIN_TEXT = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

/** Text that holds no `<|endoftext|>` to tokens: gpt-tokenizer's cl100k_base, unchanged. */
export function encodePlain(text: string): number[] {
  return encode(text, PLAIN_TEXT);
}

/**
 * Text to tokens, all at once (the corpus at build time; prompts go through `encodePrompt`).
 * Every `<|endoftext|>` is the separator token, as tiktoken and OpenAI treat it: gpt-tokenizer
 * itself only finds one at the start of the text, so the text is split here.
 */
export function encodeText(text: string): number[] {
  const out: number[] = [];
  for (const [i, segment] of text.split(EndOfText).entries()) {
    if (i > 0) out.push(EOT);
    if (segment !== '') for (const id of encodePlain(segment)) out.push(id);
  }
  return out;
}

const textEncoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });
const EOT_BYTES = textEncoder.encode(EndOfText);
const bytesCache = new Map<number, Uint8Array>();
const displayCache = new Map<number, string>();

/** The raw bytes a token stands for (some tokens are fragments of a multi-byte character). */
export function tokenBytes(id: number): Uint8Array {
  if (id === EOT) return EOT_BYTES;
  let bytes = bytesCache.get(id);
  if (bytes === undefined) {
    const entry = bpeRanks[id];
    if (entry === undefined) throw new RangeError(`token ${id} is not in ${ENCODING_NAME}`);
    bytes = typeof entry === 'string' ? textEncoder.encode(entry) : Uint8Array.from(entry);
    bytesCache.set(id, bytes);
  }
  return bytes;
}

/**
 * A token as shown in `logprobs.tokens` and as a `top_logprobs` key: its text, or, for a token that
 * is not valid UTF-8 on its own, `bytes:\xNN...` as OpenAI's API shows such fragments.
 */
export function tokenDisplay(id: number): string {
  let shown = displayCache.get(id);
  if (shown === undefined) {
    const bytes = tokenBytes(id);
    try {
      shown = strictDecoder.decode(bytes);
    } catch {
      shown = `bytes:${Array.from(bytes, (b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')}`;
    }
    displayCache.set(id, shown);
  }
  return shown;
}

/**
 * Decodes a token stream to text incrementally, so a character split over two tokens comes out
 * whole and every token's start offset in the text is exact.
 */
export class IncrementalDecoder {
  private decoder = new TextDecoder('utf-8');
  text = '';

  /** Appends a token; returns the text offset where the token's output starts. */
  push(id: number): number {
    const offset = this.text.length;
    this.text += this.decoder.decode(tokenBytes(id), { stream: true });
    return offset;
  }

  /** Ends the stream: dangling bytes of an unfinished character become U+FFFD, as in `decode`. */
  finish(): string {
    this.text += this.decoder.decode();
    return this.text;
  }
}

export function decodeTokens(ids: readonly number[]): string {
  const decoder = new IncrementalDecoder();
  for (const id of ids) decoder.push(id);
  return decoder.finish();
}
