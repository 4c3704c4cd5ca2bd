import { type DestinationStream, type Logger, pino } from 'pino';
import { currentRequestId } from './http/request-id.js';
import { redactSecrets } from './redact.js';

/**
 * pino, with every finished line passed through the secret scrubber: redaction by path alone
 * misses a key that an upstream echoes inside an error message.
 */
export function createLogger(options: {
  level: string;
  secrets: readonly (string | undefined)[];
  destination?: DestinationStream;
}): Logger {
  return pino(
    {
      level: options.level,
      redact: {
        paths: ['req.headers.authorization', 'headers.authorization', 'authorization'],
        censor: '[redacted]',
      },
      hooks: { streamWrite: (line) => redactSecrets(line, options.secrets) },
      // Every line written while serving a request carries its id.
      mixin: () => {
        const requestId = currentRequestId();
        return requestId === undefined ? {} : { requestId };
      },
    },
    options.destination,
  );
}

export type { Logger };
