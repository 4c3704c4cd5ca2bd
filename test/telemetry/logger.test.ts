import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, logDestination } from '../../src/telemetry/logger.js';

/**
 * Lines are written in batches, asynchronously (one system call per line cost every operation),
 * yet none is lost when the process exits, and every line is still scrubbed of secrets.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'logger-test-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const readLines = async (path: string) =>
  (await readFile(path, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { msg: string; n?: number });

describe('the log destination', () => {
  it('holds lines until a batch is full or a flush, then writes them', async () => {
    const path = join(dir, 'held.log');
    const logger = createLogger({
      level: 'info',
      secrets: [],
      destination: logDestination(path, { bufferBytes: 4096, flushMs: 60_000 }),
    });
    logger.info({ n: 1 }, 'first');
    logger.info({ n: 2 }, 'second');
    // Two short lines do not fill a batch: nothing is written by the calls themselves.
    expect(await readLines(path)).toEqual([]);
    await new Promise<void>((resolve, reject) =>
      logger.flush((error) => (error ? reject(error) : resolve())),
    );
    expect(await readLines(path)).toMatchObject([{ msg: 'first' }, { msg: 'second' }]);
  });

  it('writes what waits when the flush interval passes', async () => {
    const path = join(dir, 'interval.log');
    const logger = createLogger({
      level: 'info',
      secrets: [],
      destination: logDestination(path, { bufferBytes: 4096, flushMs: 20 }),
    });
    logger.info({ n: 1 }, 'first');
    logger.info({ n: 2 }, 'second');
    await expect.poll(() => readLines(path)).toMatchObject([{ msg: 'first' }, { msg: 'second' }]);
  });

  it('writes a full batch at once, in order', async () => {
    const path = join(dir, 'batch.log');
    const logger = createLogger({
      level: 'info',
      secrets: [],
      destination: logDestination(path, { bufferBytes: 1024, flushMs: 60_000 }),
    });
    for (let n = 0; n < 100; n++) logger.info({ n }, 'line');
    await expect.poll(async () => (await readLines(path)).length).toBeGreaterThan(0);
    const lines = await readLines(path);
    expect(lines.map((line) => line.n)).toEqual(lines.map((_, i) => i));
    await new Promise<void>((resolve, reject) =>
      logger.flush((error) => (error ? reject(error) : resolve())),
    );
    expect((await readLines(path)).map((line) => line.n)).toEqual([...Array(100).keys()]);
  });

  it.each([
    ['exits', 'process.exit(0)'],
    ['crashes', 'throw new Error("crash")'],
    ['runs out of work', ''],
  ])('loses no line when the process %s', async (_, ending) => {
    const path = join(dir, `exit-${ending.length}.log`);
    const logger = new URL('../../src/telemetry/logger.ts', import.meta.url).href;
    const script = `
      const { createLogger, logDestination } = await import(${JSON.stringify(logger)});
      const log = createLogger({ level: 'info', secrets: [], destination: logDestination(${JSON.stringify(path)}, { flushMs: 60000 }) });
      for (let n = 0; n < 25; n++) log.info({ n }, 'before the end');
      ${ending}
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    await new Promise((resolve) => child.once('exit', resolve));
    expect((await readLines(path)).map((line) => line.n)).toEqual([...Array(25).keys()]);
  });
});

describe('scrubbing', () => {
  const secret = 'sk-proj-abcdefghijklmnopqrstuvwxyz123456';
  const written: string[] = [];
  const logger = createLogger({
    level: 'info',
    secrets: [secret, 'short', undefined],
    destination: new Writable({
      write(chunk, _encoding, done) {
        written.push(String(chunk));
        done();
      },
    }),
  });

  it.each([
    ['the secret', `key ${secret} refused`, secret],
    ['its first characters', 'Incorrect API key provided: sk-proj-****', 'sk-proj-'],
    ['its last characters', 'key ending 123456 refused', '123456'],
    ['a bearer token', 'header was bEaReR abc.def-ghi', 'abc.def-ghi'],
    ['a key-shaped word', 'try rk-live-0000', 'rk-live-0000'],
    ['a masked fragment', 'key abc***xyz', 'abc***xyz'],
  ])('removes %s from a line', (_, message, removed) => {
    logger.info({ detail: message }, message);
    const line = written.at(-1) ?? '';
    expect(line).toContain('[redacted]');
    expect(line).not.toContain(removed);
  });

  it('passes a line with nothing to remove as it is', () => {
    logger.info({ requestId: '3f2b8c1e-9a7d-4e2f', models: ['gpt-3.5-turbo-instruct'] }, 'operation');
    const line = JSON.parse(written.at(-1) ?? '{}');
    expect(line).toMatchObject({ requestId: '3f2b8c1e-9a7d-4e2f', models: ['gpt-3.5-turbo-instruct'] });
    expect(written.at(-1)).not.toContain('[redacted]');
  });
});
