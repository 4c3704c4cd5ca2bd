import type { EndedSpan, SpanEncoding } from './otlp-encoding.js';
import type { OtlpTransport } from './otlp-transport.js';

/**
 * Ended spans, encoded at once, sent in batches as the SDK's BatchSpanProcessor sends them: when
 * `batchSize` are waiting, or `delayMs` after the first of them; and, unlike it, when they reach
 * `maxBatchBytes` (4 MiB): spans that carry prompts (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT)
 * could otherwise make a batch of hundreds of megabytes, held in memory and refused by the collector. At most `maxInFlight` batches are
 * being sent; past that a batch is dropped and reported, so an unreachable collector bounds what is
 * held (as the SDK's queue limit does).
 */

export interface SpanExportOptions {
  batchSize: number;
  delayMs: number;
  maxInFlight?: number;
  maxBatchBytes?: number;
  onExportError: ((error: Error) => void) | undefined;
}

export class SpanExport {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly encoding: SpanEncoding,
    private readonly transport: Pick<OtlpTransport, 'send' | 'close'>,
    private readonly options: SpanExportOptions,
  ) {}

  /** A span that ended: encoded now, sent with its batch. Dropped once the export has stopped. */
  add(span: EndedSpan): void {
    if (this.stopped) return;
    this.encoding.add(span);
    if (
      this.encoding.count >= this.options.batchSize ||
      this.encoding.bytes >= (this.options.maxBatchBytes ?? 4 * 1024 * 1024)
    )
      this.send();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.send(), this.options.delayMs);
      this.timer.unref();
    }
  }

  private send(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const count = this.encoding.count;
    if (count === 0) return;
    const body = this.encoding.take();
    if (this.inFlight.size >= (this.options.maxInFlight ?? 30)) {
      this.options.onExportError?.(new Error(`${count} spans dropped: too many exports in flight`));
      return;
    }
    const sent: Promise<void> = this.transport.send(body).then(
      () => {
        this.inFlight.delete(sent);
      },
      (error: unknown) => {
        this.inFlight.delete(sent);
        this.options.onExportError?.(error instanceof Error ? error : new Error(String(error)));
      },
    );
    this.inFlight.add(sent);
  }

  /** Sends what is waiting, and resolves when every batch sent so far has been answered. */
  async forceFlush(): Promise<void> {
    this.send();
    await Promise.all(this.inFlight);
  }

  /** Sends what is waiting, once: at shutdown a batch is not retried (see OtlpTransport.close). */
  async shutdown(): Promise<void> {
    this.send();
    this.stopped = true;
    const answered = Promise.all(this.inFlight);
    await this.transport.close();
    await answered;
  }
}
