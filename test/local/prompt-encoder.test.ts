import { readFileSync } from 'node:fs';
import bpeRanks from 'gpt-tokenizer/bpeRanks/cl100k_base';
import { encode } from 'gpt-tokenizer/encoding/cl100k_base';
import { describe, expect, it } from 'vitest';
import { encodePrompt, UNITS_PER_CHECK } from '../../src/local/prompt-encoder.js';
import {
  EOT,
  encodeText,
  MAX_TOKEN_BYTES,
  MAX_TOKEN_NON_ASCII_BYTES,
  minTokens,
} from '../../src/local/tokenizer.js';
import { Yielder } from '../../src/local/yielder.js';
import { UpstreamAbortedError } from '../../src/upstream/errors.js';

/** gpt-tokenizer on the whole text at once: the reference the sliced encoder must match. */
const reference = (text: string) =>
  encode(text, { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() });

/** A pacer that takes every offered turn, so each offer is one slice, deterministically. */
function everyOffer() {
  const slices: number[] = [];
  let yields = 0;
  const pacer = {
    due: () => true,
    yieldNow: async () => {
      yields++;
      await Promise.resolve();
    },
  };
  return { pacer, slices, onSlice: (units: number) => slices.push(units), yields: () => yields };
}

const repeat = (unit: string, chars: number) => unit.repeat(Math.ceil(chars / unit.length)).slice(0, chars);

const texts: Record<string, string> = {
  english:
    "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, I'LL say we've. It's 1851; 3.14159 and 1,000,000 whales.",
  code: readFileSync(new URL('../../src/local/engine.ts', import.meta.url), 'utf8'),
  chinese: '我们的文化历史悠久，中国人民勤劳勇敢。鲸鱼在大海里游泳！“你好”，他说。',
  japanese: 'クジラは海で泳いでいます。私の名前はイシュメールです、よろしく。',
  korean: '고래는 바다에서 헤엄친다. 내 이름은 이스마엘이다.',
  emoji: '👋🏽 family: 👨‍👩‍👧‍👦 flags 🇫🇷🇯🇵 ✨✨✨ 🐋🐳 e\u0301 cafe\u0301 ①②③',
  whitespace: 'a\tb  c   d\r\ne\n\n\nf \n g\u00a0h\u3000i\u2003j  \t \n  5  $ \r\r\n   ',
  punctuation: '!!!???...;;;::: --- ===***+++ ```` ~~~ <|fim_prefix|> <|im_start|> {{{}}} ((()))',
  'lone surrogates': 'a\ud800b\udc00c 😀\ud83d end',
  cyrillic: 'Зовите меня Измаил. Несколько лет тому назад',
  'long CJK run': repeat('我们的文化历史悠久中国人民勤劳勇敢鲸鱼大海', 1500),
  'long word': repeat('a', 6000),
  'long mixed-case word': repeat('supercalifragilisticEXPIALIDOCIOUS', 4000),
  'long whitespace run': `${repeat(' ', 3000)}x${repeat('\t ', 2000)}\n${repeat(' ', 2500)}5`,
  'long punctuation run': `${repeat('=', 3000)} ${repeat('—', 1000)}${repeat('!?', 1000)}`,
  'long digits': repeat('1234567890', 3000),
  'long emoji run': repeat('🐋🐳👨‍👩‍👧', 1500),
};

describe('prompt encoder: exact ids, sliced', () => {
  it.each(Object.entries(texts))('%s: the same ids as gpt-tokenizer on the whole text', async (_, text) => {
    const expected = reference(text);
    // Default split, and every piece through this module's own merge, and through gpt-tokenizer.
    for (const shortPiece of [undefined, 0, Number.POSITIVE_INFINITY]) {
      const { pacer } = everyOffer();
      const options = { pacer, maxTokens: Number.MAX_SAFE_INTEGER };
      const ids = await encodePrompt(text, shortPiece === undefined ? options : { ...options, shortPiece });
      expect(ids).toEqual(expected);
    }
    expect(encodeText(text)).toEqual(expected);
  });

  it('matches gpt-tokenizer on 300 random mixes of scripts, spaces, digits and symbols', async () => {
    const alphabet = [
      ...'abcxyzAZ0123456789',
      ...'鲸鱼大海我们的クジラ고래Жизнь',
      ...' \t\n\r\u00a0\u3000',
      ...'.,;!?\'"-—=*<|>',
      '😀',
      '👨\u200d👩',
      '\u0301',
      "'s",
      "'LL",
      '<|endoftext|>',
    ];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let i = 0; i < 300; i++) {
      const parts = Array.from({ length: 1 + Math.floor(random() * 200) }, () => {
        const unit = alphabet[Math.floor(random() * alphabet.length)] as string;
        // Runs of one unit make the long pieces the heap merge exists for.
        return random() < 0.1 ? unit.repeat(1 + Math.floor(random() * 300)) : unit;
      });
      const text = parts.join('');
      const { pacer } = everyOffer();
      const ids = await encodePrompt(text, { pacer, maxTokens: Number.MAX_SAFE_INTEGER, shortPiece: 0 });
      expect(ids, JSON.stringify(text)).toEqual(encodeText(text));
    }
  });

  it('turns every <|endoftext|> into the separator token, as tiktoken does', async () => {
    const text = 'a<|endoftext|>The whale<|endoftext|><|endoftext|> b';
    const expected = [...reference('a'), EOT, ...reference('The whale'), EOT, EOT, ...reference(' b')];
    expect(encodeText(text)).toEqual(expected);
    expect(await encodePrompt(text, { pacer: everyOffer().pacer, maxTokens: 100 })).toEqual(expected);
    // Other special spellings stay text.
    expect(encodeText('<|im_start|>')).toEqual(reference('<|im_start|>'));
  });

  it('bounds the length checks by the vocabulary: no token is longer than the bounds assume', () => {
    let maxBytes = 0;
    let maxNonAscii = 0;
    for (const entry of bpeRanks) {
      const bytes = typeof entry === 'string' ? Buffer.from(entry, 'utf8') : Buffer.from(entry);
      maxBytes = Math.max(maxBytes, bytes.length);
      maxNonAscii = Math.max(maxNonAscii, bytes.filter((b) => b >= 0x80).length);
    }
    expect([maxBytes, maxNonAscii]).toEqual([MAX_TOKEN_BYTES, MAX_TOKEN_NON_ASCII_BYTES]);
    for (const text of Object.values(texts))
      expect(minTokens(text)).toBeLessThanOrEqual(reference(text).length);
  });
});

describe('prompt encoder: bounded work per slice', () => {
  it('tokenizes a long CJK run (one pre-token) in many slices of bounded work', async () => {
    const text = repeat('我们的文化历史悠久中国人民勤劳勇敢鲸鱼大海', 4000);
    const { pacer, slices, onSlice, yields } = everyOffer();
    const ids = await encodePrompt(text, { pacer, maxTokens: 100_000, onSlice });
    expect(ids).toEqual(reference(text));
    // The merge of 12 KB (~25,000 steps) offers a turn every UNITS_PER_CHECK steps; the only larger
    // step is the one regular-expression match that found the run (linear, bounded by the text).
    expect(slices.length).toBeGreaterThan(12_000 / UNITS_PER_CHECK);
    expect(yields()).toBeGreaterThanOrEqual(slices.length - 1);
    expect(Math.max(...slices.slice(0, -1))).toBeLessThanOrEqual(UNITS_PER_CHECK);
    expect(slices.at(-1)).toBeLessThanOrEqual(UNITS_PER_CHECK + text.length);
  });

  it('tokenizes a long prompt of many pieces in slices of at most UNITS_PER_CHECK + one piece', async () => {
    const text = repeat('The whale, 鲸鱼 🐋, swam on. ', 6000);
    const { pacer, slices, onSlice } = everyOffer();
    const ids = await encodePrompt(text, { pacer, maxTokens: Number.MAX_SAFE_INTEGER, onSlice });
    expect(ids).toEqual(reference(text));
    expect(slices.length).toBeGreaterThan(5);
    expect(Math.max(...slices)).toBeLessThan(UNITS_PER_CHECK + 16);
  });

  it.each<[string, string]>([
    ['1 MB of CJK in one run', repeat('我们的文化历史悠久中国人民勤劳勇敢', 350_000)],
    ['1 MB of punctuated CJK', repeat('我们的文化历史悠久，中国人民勤劳勇敢。', 350_000)],
    ['a 500 KB word', repeat('a', 500_000)],
    ['1 MB of spaces', `${repeat(' ', 1_000_000)}x`],
    ['1 MB of em dashes', repeat('—', 350_000)],
  ])('refuses %s past the limit without tokenizing any of it', async (_, text) => {
    const { pacer, slices, onSlice, yields } = everyOffer();
    expect(await encodePrompt(text, { pacer, maxTokens: 2048, onSlice })).toBeNull();
    expect(slices).toEqual([]);
    expect(yields()).toBe(0);
  });

  it('stops at the limit: a long text of short pieces is tokenized only up to it', async () => {
    const text = repeat('Call me Ishmael. ', 200_000);
    const { pacer, slices, onSlice } = everyOffer();
    expect(await encodePrompt(text, { pacer, maxTokens: 2048, onSlice })).toBeNull();
    // About 2,049 tokens of ~3 characters were scanned, out of 200,000 characters.
    const scanned = slices.reduce((a, b) => a + b, 0);
    expect(scanned).toBeGreaterThan(2049 * 2);
    expect(scanned).toBeLessThan(2049 * 5);
  });

  it('stops at an abort between slices', async () => {
    const controller = new AbortController();
    const yielder = new Yielder(0, controller.signal);
    const pending = encodePrompt(repeat('中国人民勤劳勇敢', 1500), { pacer: yielder, maxTokens: 2048 });
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(UpstreamAbortedError);
  });
});
