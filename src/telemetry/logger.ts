import { openSync } from 'node:fs';
import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { redactSecrets, secretsDetector } from '../upstream/redact.js';

/** Lines are handed to the writer once this many characters wait (one write for ~50 access lines), … */
export const logBufferBytes = 16 * 1024;
/** … or when this many milliseconds have passed, whichever comes first. */
export const logFlushMs = 1000;

interface Batch {
  /** Writes what waits synchronously: the process is on its way out. */
  drain(): void;
}

/** Every destination's batch, written out when the process ends, before pino ends the writer. */
const batches = new Set<WeakRef<Batch>>();
let exitHooked = false;

function drainAll(): void {
  for (const ref of batches) {
    const batch = ref.deref();
    if (batch === undefined) batches.delete(ref);
    else batch.drain();
  }
}

function register(batch: Batch): void {
  if (!exitHooked) {
    exitHooked = true;
    // Both: 'beforeExit' when the work runs out (pino ends its writer there), 'exit' otherwise.
    process.on('beforeExit', drainAll);
    process.on('exit', drainAll);
  }
  batches.add(new WeakRef(batch));
}

/**
 * Where lines go when no destination is given: standard output (or a file), written
 * asynchronously in batches of `bufferBytes`, and at least every `flushMs`. A line per write
 * (pino's default) cost every operation a system call. Nothing is lost when the process exits
 * (`process.exit`, a crash, the end of the event loop): what waits is written synchronously on the
 * way out; a killed process (SIGKILL) loses at most `flushMs` of lines.
 * Lines wait here as one string and reach SonicBoom as one buffer per batch: handed over line by
 * line, each line became a Buffer of its own (a slice of a shared slab that the collector tracks),
 * and the access line cost the service ~5 % of its CPU in the bench where the line alone, built
 * and dropped, cost ~1 %; batched as text inside SonicBoom, every line appended re-measured (and so
 * copied) the whole batch.
 */
export function logDestination(
  dest: number | string = process.stdout.fd,
  options: { bufferBytes?: number; flushMs?: number } = {},
): DestinationStream & { flush(callback?: (error?: Error) => void): void; flushSync(): void } {
  const bufferBytes = options.bufferBytes ?? logBufferBytes;
  const flushMs = options.flushMs ?? logFlushMs;
  const sonic = pino.destination({
    // A file is opened now, so that lines logged before an early exit are not lost with it.
    dest: typeof dest === 'string' ? openSync(dest, 'a') : dest,
    sync: false,
    minLength: 0,
    // A batch is written whole: SonicBoom would cut it at its 16 KB default.
    maxWrite: Math.max(16 * 1024, bufferBytes * 4),
    contentMode: 'buffer',
  });
  const write = sonic.write.bind(sonic) as unknown as (bytes: Buffer) => boolean;
  let waiting = '';
  let timer: NodeJS.Timeout | undefined;
  const handOver = () => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (waiting === '') return;
    const batch = waiting;
    waiting = '';
    write(Buffer.from(batch));
  };
  // SonicBoom's own state, read and set where its API has no word for it.
  const state = sonic as unknown as { minLength: number; _writing: boolean };
  const batch: Batch = {
    drain() {
      try {
        // Queued, not started: SonicBoom writes its queue synchronously, but not a write it has
        // already handed to the thread pool, which the exit would not wait for.
        state.minLength = Number.MAX_SAFE_INTEGER;
        handOver();
        sonic.flushSync();
      } catch {
        // Ended or not open: nothing more can be written on the way out.
      } finally {
        state.minLength = 0;
      }
    },
  };
  register(batch);
  return {
    write(line: string) {
      waiting += line;
      if (waiting.length >= bufferBytes) handOver();
      else if (timer === undefined) {
        timer = setTimeout(handOver, flushMs);
        timer.unref();
      }
      return true;
    },
    // Written, not synced: SonicBoom's flush with a callback also fsyncs, which fails on a pipe
    // (standard output in a container) and costs a disk sync elsewhere.
    flush(callback) {
      handOver();
      if (callback === undefined) return;
      // SonicBoom writes each batch at once ("drain" when all is out); with nothing in flight,
      // everything is already out.
      if (state._writing) sonic.once('drain', () => callback());
      else process.nextTick(callback);
    },
    flushSync: () => {
      handOver();
      sonic.flushSync();
    },
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
