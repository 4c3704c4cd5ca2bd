import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { redact, secretsOf, toStorageError } from '../../src/storage/errors.js';
import { createStorage, StorageError } from '../../src/storage/index.js';

const PASSWORD = 's3cr3t-Pa55';

/** Everything a careless caller might print: message, stack, and the cause chain. */
function printable(error: unknown): string {
  const e = error as Error & { cause?: Error & { input?: unknown } };
  return [String(e), e.stack, String(e.cause), e.cause?.stack, String(e.cause?.input)].join('\n');
}

async function failure(promise: Promise<unknown>): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  return error as StorageError;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('storage errors', () => {
  const sockets: Socket[] = [];
  // Accepts connections and never answers: a hung server, which only a connect timeout escapes.
  const silent = createServer((socket) => sockets.push(socket));
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('fails on a closed port with a StorageError that hides the password', async () => {
    const probe = createServer();
    const port = await listen(probe);
    await new Promise((resolve) => probe.close(resolve));
    const url = `postgres://user:${PASSWORD}@127.0.0.1:${port}/db`;
    const error = await failure(createStorage({ databaseUrl: url, sqlitePath: 'unused.db' }));
    // The refusal itself is reported (not a timeout that merely followed it).
    expect(error.operation).toBe('connect');
    expect(error.code).toBe('ECONNREFUSED');
    expect(error.message).toContain('ECONNREFUSED');
    expect(printable(error)).not.toContain(PASSWORD);
  });

  it('gives up on a server that accepts the connection and never answers (connect timeout)', async () => {
    const port = await listen(silent);
    const url = `postgresql://user:${PASSWORD}@127.0.0.1:${port}/db`;
    // Without a connect timeout pg waits forever and this test runs into vitest's own timeout.
    const error = await failure(createStorage({ databaseUrl: url, sqlitePath: 'unused.db' }));
    expect(sockets.length).toBeGreaterThan(0);
    expect(error.operation).toBe('connect');
    expect(error.message).toMatch(/timeout/i);
    expect(printable(error)).not.toContain(PASSWORD);
  });

  it('hides the password of an unparseable or unsupported URL', async () => {
    for (const url of [`postgres://user:${PASSWORD}@[bad-host/db`, `mysql://user:${PASSWORD}@localhost/db`]) {
      const error = await failure(createStorage({ databaseUrl: url, sqlitePath: 'unused.db' }));
      expect(printable(error)).not.toContain(PASSWORD);
    }
  });

  it('wraps a SQLite file that cannot be opened', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'completions-storage-bad-'));
    try {
      await writeFile(join(dir, 'file'), 'not a directory');
      const error = await failure(createStorage({ sqlitePath: join(dir, 'file', 'db.sqlite') }));
      expect(error.operation).toBe('connect');
      await writeFile(
        join(dir, 'garbage.db'),
        'this is not a database file, just text long enough'.repeat(100),
      );
      const garbage = await failure(createStorage({ sqlitePath: join(dir, 'garbage.db') }));
      expect(garbage.code).toBe('SQLITE_NOTADB');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('redacts URL credentials, password parameters and known secrets', () => {
    const url = `postgres://user:${encodeURIComponent('p@ss/wörd')}@db.internal:5432/app`;
    const secrets = secretsOf(url);
    expect(redact(`could not connect to ${url}`, secrets)).not.toMatch(/p@ss|p%40ss|w%C3%B6rd/);
    expect(redact('host=db password=hunter2 user=x')).toBe('host=db password=[redacted] user=x');
    expect(redact(`redis://:${PASSWORD}@cache:6379`)).not.toContain(PASSWORD);
    expect(redact('relation "completions" does not exist', secrets)).toBe(
      'relation "completions" does not exist',
    );
    expect(secretsOf('postgres://user@host/db')).toEqual([]);
  });

  it('replaces a cause that would leak and keeps one that would not', () => {
    const leaky = Object.assign(new TypeError(`Invalid URL`), { input: `x://u:${PASSWORD}@h`, code: 'E' });
    const wrapped = toStorageError('connect', leaky, [PASSWORD]);
    expect(printable(wrapped)).not.toContain(PASSWORD);
    expect(wrapped.code).toBe('E');
    const harmless = new Error('connection refused');
    expect(toStorageError('connect', harmless, [PASSWORD]).cause).toBe(harmless);
  });
});
