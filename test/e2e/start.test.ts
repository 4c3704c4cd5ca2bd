import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * What a new user gets from `npm start` on a fresh machine: no API key, no network, an empty
 * model cache. The real command (build, then the built entry point) runs as a child process group
 * and is asked for a completion.
 */

const cacheDir = mkdtempSync(join(tmpdir(), 'completions-start-'));
let child: ChildProcess | undefined;

afterAll(() => {
  // npm starts node as its own child: stop the whole process group.
  if (child?.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  rmSync(cacheDir, { recursive: true, force: true });
});

function start(): Promise<{ url: string; output: string[] }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: '0',
    LOCAL_MODEL_CACHE_DIR: cacheDir,
    LOG_LEVEL: 'info',
  };
  delete env.OPENAI_API_KEY;
  delete env.UPSTREAM;
  delete env.OPENAI_BASE_URL;
  const output: string[] = [];
  child = spawn('npm', ['start'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start within 30 s:\n${output.join('')}`)), 30_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /(http:\/\/[\d.]+:\d+\/graphql)/.exec(output.join(''));
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ url: match[1], output });
      }
    };
    child?.stdout?.on('data', onData);
    child?.stderr?.on('data', onData);
    child?.on('exit', (code) => reject(new Error(`exited with ${code}:\n${output.join('')}`)));
  });
}

describe('npm start with no key and an empty cache', () => {
  it('builds the local model, says what serves, and answers createCompletion', async () => {
    const { url, output } = await start();
    expect(output.join('')).toMatch(/embedded local engine/);
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `mutation { createCompletion(input: { model: "local-ngram-moby-dick", prompt: { text: "Call me Ishmael." }, maxTokens: 12, seed: 7 }) { model choices { text finishReason } usage { completionTokens } } }`,
      }),
    });
    const json = await response.json();
    expect(json.errors).toBeUndefined();
    expect(json.data.createCompletion.model).toBe('local-ngram-moby-dick');
    expect(json.data.createCompletion.choices[0].text.length).toBeGreaterThan(0);
    expect(json.data.createCompletion.usage.completionTokens).toBeGreaterThan(0);
  }, 60_000);
});

describe('npm start with the example prompts file and no key', () => {
  it('stops at once, naming the template, its model and what the embedded engine serves', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      LOCAL_MODEL_CACHE_DIR: cacheDir,
      PROMPTS_FILE: 'examples/prompts.yaml',
      SQLITE_PATH: join(cacheDir, 'never-opened.sqlite'),
    };
    delete env.OPENAI_API_KEY;
    delete env.UPSTREAM;
    delete env.OPENAI_BASE_URL;
    const output: string[] = [];
    const exit = new Promise<number | null>((resolve) => {
      const process_ = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      process_.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      process_.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      process_.on('exit', resolve);
    });
    expect(await exit).toBe(1);
    expect(output.join('')).toContain(
      'Configuration error: PROMPTS_FILE: template productSummary uses model gpt-3.5-turbo-instruct, which the embedded local engine does not serve (it serves: local-ngram-moby-dick); set OPENAI_API_KEY',
    );
  }, 60_000);
});

describe('the example prompts file offline, with examples/upstreams.offline.yaml', () => {
  it('serves the example templates from the embedded engine, as the README says', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      LOG_LEVEL: 'info',
      LOCAL_MODEL_CACHE_DIR: cacheDir,
      PROMPTS_FILE: 'examples/prompts.yaml',
      UPSTREAMS_FILE: 'examples/upstreams.offline.yaml',
      SQLITE_PATH: join(cacheDir, 'offline.sqlite'),
    };
    delete env.OPENAI_API_KEY;
    delete env.UPSTREAM;
    delete env.OPENAI_BASE_URL;
    const output: string[] = [];
    const offline = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const onData = (chunk: Buffer) => {
          output.push(chunk.toString());
          const match = /(http:\/\/[\d.]+:\d+\/graphql)/.exec(output.join(''));
          if (match?.[1]) resolve(match[1]);
        };
        offline.stdout.on('data', onData);
        offline.stderr.on('data', onData);
        offline.on('exit', (code) => reject(new Error(`exited with ${code}:\n${output.join('')}`)));
      });
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query:
            '{ prompt { productSummary(name: "Brass lamp", description: "40 cm") { text model cached } } }',
        }),
      });
      const json = await response.json();
      expect(json.errors).toBeUndefined();
      expect(json.data.prompt.productSummary.model).toBe('gpt-3.5-turbo-instruct');
      expect(json.data.prompt.productSummary.text.length).toBeGreaterThan(0);
    } finally {
      offline.kill('SIGTERM');
    }
  }, 60_000);
});

describe('a port already taken', () => {
  it('stops with one line naming it, exit code 1, no stack', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOCAL_MODEL_CACHE_DIR: cacheDir,
        SQLITE_PATH: join(cacheDir, 'taken.sqlite'),
      };
      delete env.OPENAI_API_KEY;
      const output: string[] = [];
      const started = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      started.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      started.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      const [code] = await once(started, 'exit');
      expect(code).toBe(1);
      expect(output.join('')).toContain(
        `Could not start: listen EADDRINUSE: address already in use 127.0.0.1:${port}`,
      );
      expect(output.join('')).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  }, 60_000);
});
