import { describe, expect, it } from 'vitest';
import { readSseData, SseLimitError, type SseReadOptions } from '../../src/upstream/sse.js';
import { recorded } from '../helpers/recorded.js';

async function collect(pieces: (string | Uint8Array)[], options?: SseReadOptions): Promise<string[]> {
  async function* source() {
    for (const piece of pieces) yield typeof piece === 'string' ? new TextEncoder().encode(piece) : piece;
  }
  const out: string[] = [];
  for await (const data of readSseData(source(), options)) out.push(data);
  return out;
}

/** Text chunks as a Node stream with setEncoding('utf8') hands them over; counts what was pulled. */
function textSource(pieces: Iterable<string>) {
  const pulled = { chunks: 0, chars: 0 };
  async function* source() {
    for (const piece of pieces) {
      pulled.chunks++;
      pulled.chars += piece.length;
      yield piece;
    }
  }
  return { source: source(), pulled };
}

function* repeat(piece: string, times: number) {
  for (let i = 0; i < times; i++) yield piece;
}

/** Splits bytes at every given size, so events break mid-line, mid-JSON and mid-character. */
function splitEvery(bytes: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('readSseData', () => {
  const body = recorded('openai-stream-basic.sse');
  const whole = Array.from(body.matchAll(/^data: (.*)$/gm), (m) => m[1]);

  it('reads the recorded stream whole', async () => {
    expect(await collect([body])).toEqual(whole);
  });

  it.each([1, 2, 3, 7, 64])(
    'gives the same payloads when the network splits every %i bytes',
    async (size) => {
      expect(await collect(splitEvery(new TextEncoder().encode(body), size))).toEqual(whole);
    },
  );

  it('keeps multi-byte characters split across chunks', async () => {
    const text = 'data: {"text":"héllo 🐋 ✓"}\n\n';
    const bytes = new TextEncoder().encode(text);
    expect(await collect(splitEvery(bytes, 1))).toEqual(['{"text":"héllo 🐋 ✓"}']);
  });

  it('accepts CRLF and CR line ends, even with CRLF split across chunks', async () => {
    expect(await collect(['data: a\r', '\n\r\n', 'data: b\r\rdata: c\n\n'])).toEqual(['a', 'b', 'c']);
  });

  it('skips comments, keep-alives and other fields; joins multi-line data', async () => {
    const stream =
      ': keep-alive\n\nevent: message\nid: 7\nretry: 100\ndata: line one\ndata:line two\n\n:ping\n\ndata: [DONE]\n\n';
    expect(await collect([stream])).toEqual(['line one\nline two', '[DONE]']);
  });

  it('dispatches a last complete data line without the blank line, but not a cut one', async () => {
    expect(await collect(['data: a\n\ndata: [DONE]\n'])).toEqual(['a', '[DONE]']);
    expect(await collect(['data: a\n\ndata: {"cut'])).toEqual(['a']);
  });

  it('ignores fields that only start with "data"', async () => {
    expect(await collect(['database: x\ndata: y\n\n'])).toEqual(['y']);
  });

  it('dispatches a line ended by a CR at the very end of the stream', async () => {
    expect(await collect(['data: a\r'])).toEqual(['a']);
  });

  it('keeps readers of concurrent streams apart (no shared scanning state across `yield`)', async () => {
    const events = (tag: string) => `data: ${tag}1\n\ndata: ${tag}2\n\ndata: ${tag}3\n\n`;
    const a = readSseData(textSource([events('a')]).source);
    const b = readSseData(textSource([events('b'), events('c')]).source);
    const got: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      got.push((await a.next()).value, (await b.next()).value);
    }
    got.push((await a.next()).value);
    expect(got).toEqual(['a1', 'b1', 'a2', 'b2', 'a3', 'b3', undefined]);
  });
});

describe('readSseData caps', () => {
  it('refuses a line past the cap before it has pulled much more than the cap', async () => {
    const { source, pulled } = textSource(repeat('x'.repeat(1024), 4 * 1024));
    const reading = collect2(readSseData(source, { maxLineBytes: 64 * 1024 }));
    await expect(reading).rejects.toThrow(SseLimitError);
    expect(pulled.chars).toBeLessThanOrEqual(65 * 1024);
  });

  it('counts the cap in UTF-8 bytes, across chunk splits', async () => {
    // 'é' is two bytes: 40 of them are 80 bytes, over a cap of 79, under one of 86.
    const line = `data: ${'é'.repeat(40)}\n\n`;
    await expect(collect([line], { maxLineBytes: 79 })).rejects.toThrow(SseLimitError);
    expect(await collect([line.slice(0, 10), line.slice(10)], { maxLineBytes: 86 })).toEqual([
      'é'.repeat(40),
    ]);
  });

  it('refuses an event whose data lines add up past the cap', async () => {
    await expect(collect(['data: 12345\n'.repeat(10)], { maxLineBytes: 60 })).rejects.toThrow(/event/);
    expect(await collect(['data: 12345\n\n'.repeat(10)], { maxLineBytes: 60 })).toHaveLength(10);
  });

  it('reads a 256 KB line in one-character chunks (each character scanned a bounded number of times)', async () => {
    // A reader that rescans its buffer per chunk does ~3·10^10 steps here and never finishes.
    const size = 256 * 1024;
    async function* oneByOne() {
      yield 'data: ';
      for (let i = 0; i < size; i++) {
        // Back to the event loop now and then, so a runaway reader meets the test's timeout.
        if (i % 65_536 === 0) await new Promise((resolve) => setImmediate(resolve));
        yield 'x';
      }
      yield '\n\n';
    }
    const [data] = await collect2(readSseData(oneByOne(), { maxLineBytes: 2 * size }));
    expect(data).toHaveLength(size);
  });
});

async function collect2(reader: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const data of reader) out.push(data);
  return out;
}
