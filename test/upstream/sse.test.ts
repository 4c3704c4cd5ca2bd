import { describe, expect, it } from 'vitest';
import { readSseData } from '../../src/upstream/sse.js';
import { recorded } from '../helpers/recorded.js';

async function collect(pieces: (string | Uint8Array)[]): Promise<string[]> {
  async function* source() {
    for (const piece of pieces) yield typeof piece === 'string' ? new TextEncoder().encode(piece) : piece;
  }
  const out: string[] = [];
  for await (const data of readSseData(source())) out.push(data);
  return out;
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
});
