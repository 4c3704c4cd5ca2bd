import { type DestinationStream, type Logger, pino } from 'pino';
import pretty from 'pino-pretty';
import { redactSecrets } from '../upstream/redact.js';

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
  return pino(
    {
      level: options.level,
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization'],
        censor: '[redacted]',
      },
      hooks: { streamWrite: (line) => redactSecrets(line, options.secrets) },
    },
    options.destination ??
      (options.pretty ? pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l' }) : undefined),
  );
}

export type { Logger };
