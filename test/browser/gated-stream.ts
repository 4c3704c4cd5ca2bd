import type { ServerResponse } from 'node:http';
import type { StubHandler } from '../helpers/stub-upstream.js';

/**
 * An upstream completion stream that sends a chunk only when the test says so, and reports when
 * the service closes its connection: what lets a browser test see tokens arrive one at a time and
 * see Stop reach the upstream.
 */
export interface GatedStream {
  handler: StubHandler;
  /** Resolves when the service's request arrived and the stream's headers went out. */
  opened: Promise<void>;
  /** Resolves when the connection closed before the stream was finished (the service hung up). */
  cut: Promise<void>;
  send(text: string): void;
  /** The finish reason, the usage chunk, `[DONE]`. */
  finish(usage: { prompt: number; completion: number }): void;
}

function chunk(choices: unknown[], extra: Record<string, unknown> = {}): string {
  const body = {
    id: 'cmpl-gated',
    object: 'text_completion',
    created: 1755097616,
    model: 'stub-model',
    choices,
    ...extra,
  };
  return `data: ${JSON.stringify(body)}\n\n`;
}

export function gatedStream(): GatedStream {
  let response: ServerResponse | undefined;
  let open: () => void = () => {};
  let hangUp: () => void = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  const cut = new Promise<void>((resolve) => {
    hangUp = resolve;
  });
  const live = (): ServerResponse => {
    if (response === undefined) throw new Error('the service has not called the upstream yet');
    return response;
  };
  return {
    opened,
    cut,
    handler: (_req, res) => {
      response = res;
      res.on('close', () => {
        if (!res.writableFinished) hangUp();
      });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.flushHeaders();
      open();
    },
    send(text) {
      live().write(chunk([{ text, index: 0, logprobs: null, finish_reason: null }]));
    },
    finish({ prompt, completion }) {
      const res = live();
      res.write(chunk([{ text: '', index: 0, logprobs: null, finish_reason: 'length' }]));
      res.write(
        chunk([], {
          usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
        }),
      );
      res.end('data: [DONE]\n\n');
    },
  };
}
