import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { Agent, request } from 'undici';
import { isRetryableConnectionError, isRetryableStatus, parseRetryAfterMs } from '../upstream/retry.js';

const gzip = promisify(gzipCallback);

/**
 * OTLP/HTTP requests over undici, with the OpenTelemetry exporter's retry policy. Not the SDK's
 * exporter: it sends with node:http's client, and a ClientRequest in the process makes the code it
 * shares with the server's responses (OutgoingMessage, streams) see new object shapes, deoptimizing
 * the hot path of every request; bench section 7 measured tracing at 1 operation in 10 at 1.04×
 * with it and 1.02× with undici, which the upstream client already runs hot.
 */

export interface OtlpTransportOptions {
  url: string;
  headers: Readonly<Record<string, string>>;
  contentType: string;
  /** The longest one export may take, retries included (OTEL_EXPORTER_OTLP_TIMEOUT, 10 s). */
  timeoutMs: number;
  compression: 'gzip' | 'none';
  /** PEM text for TLS: a CA to trust, and a client certificate and key (mutual TLS). */
  tls?: { ca?: string; cert?: string; key?: string };
}

// The OpenTelemetry exporter's backoff: five retries, from 1 s, ×1.5, at most 5 s, ±20 % jitter,
// never past the export's deadline; a Retry-After the collector sends comes first. What is worth
// a retry (429/502–504, a connection that failed before any answer) is the upstream client's rule.
const RETRIES = 5;
const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 5_000;
/** One attempt: done, or worth another try after (at least) the given delay, or failed for good. */
type Attempt =
  | { ok: true }
  | { ok: false; error: Error; retryAfterMs?: number | undefined; retryable: boolean };

export class OtlpTransport {
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;
  /** Once closing, no export waits for a retry: a drain must not wait on a collector that is down. */
  private closing = false;
  private readonly sleeping = new Set<() => void>();

  constructor(private readonly options: OtlpTransportOptions) {
    this.agent = new Agent({ connections: 4, ...(options.tls ? { connect: options.tls } : {}) });
    // The exporter specification asks for a User-Agent that names the exporter.
    this.headers = Object.assign({}, options.headers, {
      'user-agent': 'completions-subgraph-otlp-exporter',
      'content-type': options.contentType,
      ...(options.compression === 'gzip' ? { 'content-encoding': 'gzip' } : {}),
    });
  }

  private async attempt(body: Uint8Array, deadline: number): Promise<Attempt> {
    try {
      const response = await request(this.options.url, {
        method: 'POST',
        headers: this.headers,
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      });
      // The answer (an ExportTraceServiceResponse, perhaps a partial success) is not read: nothing
      // here could act on it.
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) return { ok: true };
      return {
        ok: false,
        error: new Error(`the collector answered HTTP ${response.statusCode}`),
        retryable: isRetryableStatus(response.statusCode),
        retryAfterMs: parseRetryAfterMs(response.headers),
      };
    } catch (error) {
      // A refused or reset connection may be a collector restarting; a timeout ends the export, and
      // a certificate that is not trusted will not be trusted on the next try.
      return {
        ok: false,
        error: error instanceof Error ? error : new Error(String(error)),
        retryable: isRetryableConnectionError(error),
      };
    }
  }

  /** Sends one export request; rejects when it could not be delivered before its deadline. */
  async send(spans: Uint8Array): Promise<void> {
    const deadline = Date.now() + this.options.timeoutMs;
    const body = this.options.compression === 'gzip' ? await gzip(spans) : spans;
    let backoff = FIRST_BACKOFF_MS;
    for (let retry = 0; ; retry++) {
      const result = await this.attempt(body, deadline);
      if (result.ok) return;
      const jittered = Math.min(backoff * (0.8 + Math.random() * 0.4), MAX_BACKOFF_MS);
      const wait = result.retryAfterMs ?? jittered;
      const last = !result.retryable || retry >= RETRIES || Date.now() + wait > deadline;
      if (last || this.closing) throw result.error;
      backoff *= 1.5;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.sleeping.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, wait);
        this.sleeping.add(wake);
      });
      if (this.closing) throw result.error;
    }
  }

  /** Ends the exports' retries, and closes the connections once their requests are answered. */
  async close(): Promise<void> {
    this.closing = true;
    for (const wake of [...this.sleeping]) wake();
    await this.agent.close();
  }
}
