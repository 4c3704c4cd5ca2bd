/**
 * One error type for every storage failure, so callers can tell "the database failed" apart from
 * bugs and decide for themselves (the completion service still returns a paid completion when
 * storing fails). Messages never carry connection credentials: drivers and URL parsers may echo the
 * DATABASE_URL (Node's `ERR_INVALID_URL` keeps it in `input`), so text is scrubbed before it is
 * kept, and a cause that would leak is replaced by a scrubbed copy.
 */

export type StorageOperation =
  | 'connect'
  | 'migrate'
  | 'completions.save'
  | 'completions.get'
  | 'completions.getMany'
  | 'usage.record'
  | 'usage.forClient'
  | 'promptCache.get'
  | 'promptCache.set'
  | 'ping'
  | 'close';

const REDACTED = '[redacted]';
// `scheme://user:password@` anywhere in a text, whatever the scheme or the secrets list knows.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/[^\s:/@]*):[^\s@/]*@/gi;
// `password=...` in libpq keyword strings and URL query parameters.
const PASSWORD_PARAM = /\b(password|passwd|pwd)=[^\s&;]*/gi;

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join(REDACTED);
  }
  return out.replace(URL_CREDENTIALS, `$1:${REDACTED}@`).replace(PASSWORD_PARAM, `$1=${REDACTED}`);
}

/** The strings that must never appear in a message: the password (raw and decoded) and the URL. */
export function secretsOf(databaseUrl: string | undefined): string[] {
  if (databaseUrl === undefined || databaseUrl === '') return [];
  const secrets = new Set<string>();
  try {
    const url = new URL(databaseUrl);
    if (url.password !== '') {
      secrets.add(url.password);
      secrets.add(safeDecode(url.password));
      secrets.add(databaseUrl);
    }
    const queryPassword = url.searchParams.get('password');
    if (queryPassword) secrets.add(queryPassword);
  } catch {
    // Unparseable: the whole string may be a secret, and only the regexes can find parts of it.
    secrets.add(databaseUrl);
  }
  // Longest first, so a password inside the URL does not leave URL fragments behind.
  return [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export class StorageError extends Error {
  readonly operation: StorageOperation;
  /** The driver's error code when it has one (`ECONNREFUSED`, SQLSTATE `23505`, `SQLITE_BUSY`). */
  readonly code: string | undefined;

  constructor(
    operation: StorageOperation,
    message: string,
    options: { cause?: unknown; code?: string } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.operation = operation;
    this.code = options.code;
  }
}

/** Wraps anything thrown by a driver, with credentials scrubbed from the message and the cause. */
export function toStorageError(
  operation: StorageOperation,
  cause: unknown,
  secrets: readonly string[] = [],
): StorageError {
  if (cause instanceof StorageError) return cause;
  const code = errorCode(cause);
  const detail = redact(describe(cause), secrets);
  return new StorageError(operation, `storage ${operation} failed: ${detail}`, {
    cause: scrubCause(cause, secrets),
    ...(code === undefined ? {} : { code }),
  });
}

function describe(cause: unknown): string {
  if (cause instanceof AggregateError && cause.message === '' && cause.errors.length > 0) {
    // node-postgres reports a refused dual-stack connect as an AggregateError with an empty message.
    return cause.errors.map(describe).join('; ');
  }
  if (cause instanceof Error) return cause.message || cause.name;
  return String(cause);
}

function errorCode(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null || !('code' in cause)) return undefined;
  const code = (cause as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function scrubCause(cause: unknown, secrets: readonly string[]): unknown {
  if (!leaks(cause, secrets)) return cause;
  const copy = new Error(redact(describe(cause), secrets));
  copy.name = cause instanceof Error ? cause.name : 'Error';
  const code = errorCode(cause);
  if (code !== undefined) Object.assign(copy, { code });
  return copy;
}

/** Whether any string reachable from the error (message, stack, own fields, nested errors) leaks. */
function leaks(value: unknown, secrets: readonly string[], depth = 0): boolean {
  if (depth > 4 || value === null || value === undefined) return false;
  if (typeof value === 'string') return redact(value, secrets) !== value;
  if (typeof value !== 'object') return false;
  const fields: unknown[] = Object.values(value);
  if (value instanceof Error) fields.push(value.message, value.stack, value.cause);
  if (value instanceof AggregateError) fields.push(...value.errors);
  return fields.some((field) => leaks(field, secrets, depth + 1));
}
