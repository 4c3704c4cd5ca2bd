/**
 * Reads the `data:` payloads of a server-sent event stream, whatever the network splits: events
 * cut mid-line or mid-UTF-8 character, CRLF/CR/LF line ends, comments, keep-alives and events with
 * several `data:` lines (joined with "\n", as the SSE spec says).
 */

const LINE_END = /\r\n|\r|\n/g;

export async function* readSseData(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  // Only for byte chunks: a Node stream with setEncoding('utf8') hands over text already.
  let decoder: TextDecoder | undefined;
  let buffer = '';
  let data: string[] = [];
  let hasData = false;

  for await (const chunk of body) {
    if (typeof chunk === 'string') buffer += chunk;
    else {
      decoder ??= new TextDecoder('utf-8');
      buffer += decoder.decode(chunk, { stream: true });
    }
    let lineStart = 0;
    LINE_END.lastIndex = 0;
    for (let match = LINE_END.exec(buffer); match !== null; match = LINE_END.exec(buffer)) {
      // A CR at the very end may be the first half of a CRLF split across chunks: wait for more.
      if (match[0] === '\r' && match.index === buffer.length - 1) break;
      const line = buffer.slice(lineStart, match.index);
      lineStart = match.index + match[0].length;
      if (line === '') {
        if (hasData) yield data.join('\n');
        data = [];
        hasData = false;
      } else if (line.startsWith('data')) {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        if (field !== 'data') continue;
        const value = colon === -1 ? '' : line.slice(colon + 1);
        data.push(value.startsWith(' ') ? value.slice(1) : value);
        hasData = true;
      }
      // Comments (":keep-alive") and the event/id/retry fields carry nothing a completion needs.
    }
    buffer = buffer.slice(lineStart);
  }
  // Some servers close right after the last `data:` line without the blank line; its lines were
  // complete, so it is dispatched. An unterminated line (a cut payload) is not.
  if (hasData) yield data.join('\n');
}
