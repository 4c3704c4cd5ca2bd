import { openSync } from 'node:fs';
import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { keyShapedSource } from '../key-shapes.js';
import { redactSecrets, secretFragments, secretTexts } from '../upstream/redact.js';

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

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What redactSecrets would act on, found in one pass: the secrets and the fragments of them it
 * removes, a bearer token, a key-shaped word, a masked fragment. A line with none of these (an
 * access line, nearly always) is passed as it is; any other goes through redactSecrets.
 */
function scrubber(secrets: readonly (string | undefined)[]): (line: string) => string {
  const fragments = new Set<string>();
  for (const secret of secretTexts(secrets)) {
    fragments.add(secret);
    for (const part of secretFragments(secret)) fragments.add(part);
  }
  const suspect = new RegExp(
    [
      ...[...fragments].map(escapeRegExp),
      '\\b[Bb][Ee][Aa][Rr][Ee][Rr]\\s',
      keyShapedSource,
      '\\*\\*\\*',
    ].join('|'),
  );
  return (line) => (suspect.test(line) ? redactSecrets(line, secrets) : line);
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
