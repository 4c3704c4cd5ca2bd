/**
 * Prompt text to cl100k_base tokens without holding the event loop. Byte-pair encoding costs grow
 * faster than a pre-token's length, and a prompt may be one 500 KB "word", a long CJK run with no
 * spaces, or a run of whitespace. So:
 *
 * - a prompt whose length alone proves it exceeds the limit is refused before any work;
 * - the text is split where gpt-tokenizer splits it — at `<|endoftext|>`, then by the cl100k
 *   pre-tokenizer's own regular expression — and pieces are encoded one by one, stopping as soon
 *   as the limit is passed. A lone pre-token splits into itself again, so encoding piece by piece
 *   gives the same ids as encoding the whole text;
 * - short pieces go to gpt-tokenizer; long ones to the O(n log n) merge of `bpe-merge.ts`;
 * - work is counted in units (a character scanned, a merge step) and every `UNITS_PER_CHECK`
 *   units the request's yielder may take an event-loop turn.
 *
 * What stays atomic is one regular-expression match, linear in its length, and the text's length
 * is bounded first (`minTokens`), so at most ~100 K non-ASCII bytes are ever scanned.
 */
import { CL100K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';
import { mergeBytes } from './bpe-merge.js';
import { byteRanks } from './byte-ranks.js';
import { EndOfText, EOT, encodePlain, minTokens } from './tokenizer.js';
import { type Pacer, WorkMeter, Yielder } from './yielder.js';

/** Work between two offers to yield: ~0.1–0.3 ms, far below the engine's 3 ms slice. */
export const UNITS_PER_CHECK = 1024;
/** Pieces up to this many UTF-16 units go to gpt-tokenizer, whose quadratic merge is cheap there. */
const SHORT_PIECE = 64;

export interface EncodePromptOptions {
  pacer: Pacer;
  /** Stop as soon as the text is known to have more tokens than this. */
  maxTokens: number;
  /** Sees the units done between two offers to yield (tests). */
  onSlice?: (units: number) => void;
  /** Longer pieces are merged here, shorter ones by gpt-tokenizer; tests set 0 to merge all here. */
  shortPiece?: number;
}

/** The tokens of `text`, or null when it has more than `maxTokens` (then not all are counted). */
export async function encodePrompt(text: string, options: EncodePromptOptions): Promise<number[] | null> {
  const { maxTokens } = options;
  if (minTokens(text) > maxTokens) return null;
  const shortPiece = options.shortPiece ?? SHORT_PIECE;
  const meter = new WorkMeter(options.pacer, UNITS_PER_CHECK, options.onSlice);
  // A private copy: `lastIndex` is state, and the library's own instance must stay untouched.
  const splitter = new RegExp(CL100K_TOKEN_SPLIT_REGEX.source, CL100K_TOKEN_SPLIT_REGEX.flags);
  try {
    return await encodePieces(text, splitter, meter, maxTokens, shortPiece);
  } finally {
    meter.finish();
  }
}

async function encodePieces(
  text: string,
  splitter: RegExp,
  meter: WorkMeter,
  maxTokens: number,
  shortPiece: number,
): Promise<number[] | null> {
  const tokens: number[] = [];
  let from = 0;
  for (;;) {
    const special = text.indexOf(EndOfText, from);
    const segment = text.slice(from, special < 0 ? text.length : special);
    splitter.lastIndex = 0;
    for (let match = splitter.exec(segment); match !== null; match = splitter.exec(segment)) {
      const piece = match[0];
      if (piece.length <= shortPiece) {
        for (const id of encodePlain(piece)) tokens.push(id);
      } else {
        if (tokens.length + minTokens(piece) > maxTokens) return null;
        const ranks = await byteRanks();
        for (const id of await mergeBytes(Buffer.from(piece, 'utf8'), ranks, meter)) tokens.push(id);
      }
      if (meter.add(piece.length)) await meter.checkpoint();
      if (tokens.length > maxTokens) return null;
    }
    if (special < 0) break;
    tokens.push(EOT);
    from = special + EndOfText.length;
  }
  return tokens.length > maxTokens ? null : tokens;
}

/**
 * Builds the byte table and runs the merge once, so a server pays for both at start-up (~50 ms of
 * work) rather than in the first client request with a long piece.
 */
export async function warmPromptEncoder(): Promise<void> {
  const text = `Call me Ishmael. ${'鲸鱼在大海里游泳'.repeat(8)} 🐋🐳 ${'='.repeat(40)}`;
  await encodePrompt(text, { pacer: new Yielder(3), maxTokens: Number.MAX_SAFE_INTEGER, shortPiece: 0 });
}
