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

export function sseClient(url: string, singleConnection = false) {
  const client = createSseClient({ url, singleConnection, retryAttempts: 0, fetchFn: fetch });
  return {
    run: (query: string, variables: Record<string, unknown>) =>
      collect((sink) => client.subscribe({ query, variables }, sink)),
    subscribe: (query: string, variables: Record<string, unknown>, sink: Sink) =>
      client.subscribe({ query, variables }, sink),
    dispose: () => client.dispose(),
  };
}

export function wsClient(url: string) {
  const client = createWsClient({
    url: url.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: true,
  });
  return {
    run: (query: string, variables: Record<string, unknown>) =>
      collect((sink) => client.subscribe({ query, variables }, sink)),
    subscribe: (query: string, variables: Record<string, unknown>, sink: Sink) =>
      client.subscribe({ query, variables }, sink),
    dispose: () => client.dispose(),
  };
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
