import { createClient as createHttpClient } from 'graphql-http';
import { createClient as createSseClient } from 'graphql-sse';
import { createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';

/** Real GraphQL streaming clients, collecting every event of one subscription. */

export interface StreamOutcome {
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary payloads
  events: any[];
  error?: unknown;
}

type Sink = { next(value: unknown): void; error(error: unknown): void; complete(): void };
type Subscribe = (sink: Sink) => () => void;

function collect(subscribe: Subscribe): Promise<StreamOutcome> {
  return new Promise((resolve) => {
    const events: unknown[] = [];
    subscribe({
      next: (value) => events.push(value),
      error: (error) => resolve({ events, error }),
      complete: () => resolve({ events }),
    });
  });
}

/** What the graphql-sse and graphql-ws clients have in common, which is all the tests need. */
interface StreamingClient {
  subscribe(
    payload: { query: string; variables: Record<string, unknown>; extensions?: Record<string, unknown> },
    sink: Sink,
  ): () => void;
  dispose(): void | Promise<void>;
}

function streaming(client: StreamingClient) {
  const subscribe = (
    query: string,
    variables: Record<string, unknown>,
    sink: Sink,
    extra: { extensions?: Record<string, unknown> } = {},
  ) => client.subscribe({ query, variables, ...extra }, sink);
  return {
    run: (query: string, variables: Record<string, unknown>) =>
      collect((sink) => subscribe(query, variables, sink)),
    subscribe,
    dispose: () => client.dispose(),
  };
}

export function sseClient(url: string, singleConnection = false) {
  return streaming(createSseClient({ url, singleConnection, retryAttempts: 0, fetchFn: fetch }));
}

export function wsClient(url: string) {
  return streaming(
    createWsClient({
      url: url.replace(/^http/, 'ws'),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
    }),
  );
}

/** One operation over GraphQL over HTTP with the `graphql-http` client; resolves with the last result. */
export function executeOverHttp<Result = unknown>(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<{ data?: Result | null; errors?: readonly unknown[] }> {
  const client = createHttpClient({ url, fetchFn: fetch });
  return new Promise((resolve, reject) => {
    let last: { data?: Result | null; errors?: readonly unknown[] } = {};
    client.subscribe<Result>(
      { query, ...(variables ? { variables } : {}) },
      { next: (value) => (last = value), error: reject, complete: () => resolve(last) },
    );
  });
}
