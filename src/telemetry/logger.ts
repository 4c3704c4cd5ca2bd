import { openSync } from 'node:fs';
import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { redactSecrets, secretsDetector } from '../upstream/redact.js';

/** Lines are written once this many bytes wait (one write for a dozen access lines), … */
export const logBufferBytes = 4096;
/** … or when this many milliseconds have passed, whichever comes first. */
export const logFlushMs = 1000;

/**
 * Where lines go when no destination is given: standard output (or a file), written
 * asynchronously in batches of `bufferBytes`, and at least every `flushMs`. A line per write
 * (pino's default) cost every operation a system call. Nothing is lost when the process exits
 * (`process.exit`, a crash, the end of the event loop): pino writes what waits, synchronously,
 * on the way out; a killed process (SIGKILL) loses at most `flushMs` of lines.
 * Each line is handed over as bytes: batched as text, every line appended re-measured (and so
 * copied) the whole batch, kilobytes of garbage per line.
 */
export function logDestination(
  dest: number | string = process.stdout.fd,
  options: { bufferBytes?: number; flushMs?: number } = {},
): DestinationStream & { flush(callback?: (error?: Error) => void): void; flushSync(): void } {
  const sonic = pino.destination({
    // A file is opened now, so that lines logged before an early exit are not lost with it.
    dest: typeof dest === 'string' ? openSync(dest, 'a') : dest,
    sync: false,
    minLength: options.bufferBytes ?? logBufferBytes,
    periodicFlush: options.flushMs ?? logFlushMs,
    contentMode: 'buffer',
  });
  const write = sonic.write.bind(sonic) as unknown as (bytes: Buffer) => boolean;
  return {
    write: (line: string) => write(Buffer.from(line)),
    // Written, not synced: SonicBoom's flush with a callback also fsyncs, which fails on a pipe
    // (standard output in a container) and costs a disk sync elsewhere.
    flush(callback) {
      if (callback !== undefined) sonic.once('drain', () => callback());
      sonic.flush();
    },
    flushSync: () => sonic.flushSync(),
  };
}

/** The logger's secret scrubber, with the test it starts with (see detectorOf). */
type Scrubber = ((line: string) => string) & { readonly suspect: (text: string) => boolean };

/** Lines with nothing redactSecrets would act on (an access line, nearly always) pass as they are. */
function scrubber(secrets: readonly (string | undefined)[]): Scrubber {
  const suspect = secretsDetector(secrets);
  return Object.assign((line: string) => (suspect(line) ? redactSecrets(line, secrets) : line), { suspect });
}

/**
 * When `hook` is createLogger's scrubber, the test that decides whether it changes a text: a line
 * written by the service itself passes it when the parts of it that come from outside (a client's,
 * an upstream's text) do, so the access line tests those parts instead of the whole line.
 */
export function detectorOf(hook: unknown): ((text: string) => boolean) | undefined {
  const suspect = (hook as Partial<Scrubber> | undefined)?.suspect;
  return typeof hook === 'function' && typeof suspect === 'function' ? suspect : undefined;
}

/**
 * pino, with every finished line passed through the secret scrubber: redaction by path alone
 * misses a key that an upstream echoes inside an error message.
 */
export function createLogger(options: {
  level: string;
  secrets: readonly (string | undefined)[];
  destination?: DestinationStream;
  /** Readable lines for a terminal instead of JSON. */
  pretty?: boolean;
}): Logger {
  const scrub = scrubber(options.secrets);
  return pino(
    {
      level: options.level,
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization'],
        censor: '[redacted]',
      },
      hooks: { streamWrite: scrub },
    },
    options.destination ??
      (options.pretty ? pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l' }) : logDestination()),
  );
}

export type { Logger };
