/**
 * The public GraphQL API, as any browser client would call it: queries as JSON POSTs, the
 * subscription as yoga's SSE (a POST answered with `text/event-stream`: `next` events, then
 * `complete`). Aborting the fetch closes the connection, which is how the server learns to cancel
 * the upstream call.
 */

export interface GraphQLErrorShape {
  message: string;
  extensions?: Record<string, unknown>;
}

export interface GraphQLPayload<T = unknown> {
  data?: T | null;
  errors?: GraphQLErrorShape[];
  extensions?: Record<string, unknown>;
}

export const graphqlUrl = new URL('/graphql', window.location.href).href;

/** The answer of a request that was refused before any event (401, 413, a proxy's page). */
async function payloadOf(response: Response): Promise<GraphQLPayload> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as GraphQLPayload;
    if (typeof parsed === 'object' && parsed !== null) return parsed;
  } catch {
    // Not GraphQL: described below by its status.
  }
  return { errors: [{ message: `HTTP ${response.status} ${response.statusText}`.trim() }] };
}

export async function query<T>(
  document: string,
  variables: Record<string, unknown>,
  headers: Record<string, string>,
): Promise<GraphQLPayload<T>> {
  const response = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
    body: JSON.stringify({ query: document, variables }),
  });
  return (await payloadOf(response)) as GraphQLPayload<T>;
}

export interface StreamHandlers {
  /** The response arrived (its request id, for a support question). */
  onOpen(requestId: string | null): void;
  onNext(payload: GraphQLPayload): void;
}

/** One SSE message: its event name and data (data lines joined). */
function parseMessage(block: string): { event: string; data: string } {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return { event, data: data.join('\n') };
}

/**
 * Runs the subscription until `complete` ('complete') or until `signal` aborts ('stopped').
 * A stream that ends without `complete` was cut: that is an error.
 */
export async function subscribe(
  body: unknown,
  headers: Record<string, string>,
  signal: AbortSignal,
  handlers: StreamHandlers,
): Promise<'complete' | 'stopped'> {
  try {
    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
      body: JSON.stringify(body),
      signal,
    });
    handlers.onOpen(response.headers.get('x-request-id'));
    if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream') || !response.body) {
      handlers.onNext(await payloadOf(response));
      return 'complete';
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error('The stream ended before its last event (the connection was cut).');
      buffer += value;
      for (let end = buffer.search(/\r?\n\r?\n/); end !== -1; end = buffer.search(/\r?\n\r?\n/)) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
        const message = parseMessage(block);
        if (message.event === 'complete') {
          await reader.cancel();
          return 'complete';
        }
        if (message.event === 'next') handlers.onNext(JSON.parse(message.data) as GraphQLPayload);
      }
    }
  } catch (error) {
    if (signal.aborted) return 'stopped';
    throw error;
  }
}
