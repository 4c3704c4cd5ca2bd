/**
 * Reads the `data:` payloads of a server-sent event stream, whatever the network splits: events
 * cut mid-line or mid-UTF-8 character, CRLF/CR/LF line ends, comments, keep-alives and events with
 * several `data:` lines (joined with "\n", as the SSE spec says).
 *
 * Each character is looked at a bounded number of times (only the new chunk is searched for a line
 * end; an unfinished line is kept as pieces), so a long line costs linear time however the network
 * splits it, and a line or an event past `maxLineBytes` stops the read before it is held whole.
 */

export interface SseReadOptions {
  /** The longest line, and the most `data` one event may gather, in UTF-8 bytes. */
  maxLineBytes?: number;
}

/** The stream broke a size cap: the upstream is misbehaving, the reader stopped. */
export class SseLimitError extends Error {}

export async function* readSseData(
  body: AsyncIterable<Uint8Array | string>,
  options: SseReadOptions = {},
): AsyncGenerator<string> {
  const maxLineBytes = options.maxLineBytes ?? Number.POSITIVE_INFINITY;
  // One per reader: its lastIndex lives across `yield`, where other streams' readers run.
  const lineEnd = /[\r\n]/g;
  // Only for byte chunks: a Node stream with setEncoding('utf8') hands over text already.
  let decoder: TextDecoder | undefined;
  let pending: string[] = [];
  let pendingBytes = 0;
  // A CR ended the last chunk: an LF opening the next one belongs to it (a split CRLF).
  let afterCr = false;
  let data: string[] = [];
  let dataBytes = 0;
  let hasData = false;

  const tooLong = (what: string) =>
    new SseLimitError(`The upstream sent an SSE ${what} longer than ${maxLineBytes} bytes.`);

  for await (const piece of body) {
    let chunk: string;
    if (typeof piece === 'string') chunk = piece;
    else {
      decoder ??= new TextDecoder('utf-8');
      chunk = decoder.decode(piece, { stream: true });
    }
    if (chunk === '') continue;
    let start = afterCr && chunk.charCodeAt(0) === 10 ? 1 : 0;
    afterCr = false;
    lineEnd.lastIndex = start;
    for (let match = lineEnd.exec(chunk); match !== null; match = lineEnd.exec(chunk)) {
      const end = match.index;
      const head = chunk.slice(start, end);
      const lineBytes = pendingBytes + Buffer.byteLength(head, 'utf8');
      if (lineBytes > maxLineBytes) throw tooLong('line');
      const line = pending.length === 0 ? head : pending.join('') + head;
      pending = [];
      pendingBytes = 0;
      start = end + 1;
      if (match[0] === '\r') {
        if (end === chunk.length - 1) afterCr = true;
        else if (chunk.charCodeAt(end + 1) === 10) start = end + 2;
      }
      lineEnd.lastIndex = start;

      if (line === '') {
        if (hasData) yield data.join('\n');
        data = [];
        dataBytes = 0;
        hasData = false;
      } else if (line.startsWith('data')) {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        if (field !== 'data') continue;
        const value = colon === -1 ? '' : line.slice(colon + 1);
        dataBytes += lineBytes;
        if (dataBytes > maxLineBytes) throw tooLong('event');
        data.push(value.startsWith(' ') ? value.slice(1) : value);
        hasData = true;
      }
      // Comments (":keep-alive") and the event/id/retry fields carry nothing a completion needs.
    }
    if (start < chunk.length) {
      const rest = chunk.slice(start);
      pendingBytes += Buffer.byteLength(rest, 'utf8');
      if (pendingBytes > maxLineBytes) throw tooLong('line');
      pending.push(rest);
    }
  }
  // Some servers close right after the last `data:` line without the blank line; its lines were
  // complete, so it is dispatched. An unterminated line (a cut payload) is not.
  if (hasData) yield data.join('\n');
}
