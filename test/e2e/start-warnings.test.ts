import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashToken } from '../../src/auth/client-keys.js';

/** What the start lines warn an operator about before the first request. */

const dir = mkdtempSync(join(tmpdir(), 'completions-warn-'));
let child: ChildProcess | undefined;
afterAll(() => {
  if (child?.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startWith(extra: Record<string, string>): Promise<string> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    UPSTREAM: 'openai',
    OPENAI_BASE_URL: 'http://127.0.0.1:9/v1',
    OPENAI_API_KEY: 'sk-warn-test-key-0123456789',
    SQLITE_PATH: join(dir, 'warn.sqlite'),
    LOG_LEVEL: 'info',
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_GRACE_MS: '100',
    ...extra,
  };
  delete env.REDIS_URL;
  child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      if (/\/graphql/.test(output.join(''))) resolve(output.join(''));
    };
    child?.stdout?.on('data', onData);
    child?.stderr?.on('data', onData);
    child?.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output.join('')}`)));
  });
}

describe('start lines', () => {
  it('warn that spend budgets kept in memory start from zero at every restart', async () => {
    const output = await startWith({ CLIENT_KEYS: `alice:${hashToken('alice-warn-token')} budget=5usd/day` });
    expect(output).toContain('Spend budgets are counted in memory');
    const exited = once(child as ChildProcess, 'exit');
    child?.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  }, 60_000);
});
