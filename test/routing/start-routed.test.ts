import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canaryKey, reply, startStubUpstream } from '../helpers/stub-upstream.js';
import { TEST_CACHE_DIR } from '../local/shared-provider.js';

/**
 * The process as deployed, started with UPSTREAMS_FILE: configuration, provider set-up and app
 * wired by `src/main.ts`. One HTTP deployment whose upstream resets every connection, then the
 * local engine: the call falls back, and the deployment's key shows in no output.
 */

const dir = mkdtempSync(join(tmpdir(), 'routed-start-'));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child?.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  rmSync(dir, { recursive: true, force: true });
});

describe('a process started with UPSTREAMS_FILE', () => {
  it('says which deployments serve, falls back from a dead one to the local engine', async () => {
    const stub = await startStubUpstream();
    stub.on('POST', '/completions', reply.resetBeforeHeaders());
    const file = join(dir, 'upstreams.yaml');
    writeFileSync(
      file,
      `deployments:
  - { name: dead, kind: openai, baseUrl: "${stub.baseUrl}", apiKeyEnv: DEAD_KEY, models: [gpt-3.5-turbo-instruct], maxRetries: 0 }
  - { name: local, kind: local, models: { gpt-3.5-turbo-instruct: local-ngram-moby-dick } }
routes:
  gpt-3.5-turbo-instruct: [[dead], [local]]
`,
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      UPSTREAMS_FILE: file,
      DEAD_KEY: canaryKey,
      LOCAL_MODEL_CACHE_DIR: TEST_CACHE_DIR,
      SQLITE_PATH: join(dir, 'db.sqlite'),
      LOG_LEVEL: 'debug',
    };
    delete env.OPENAI_API_KEY;
    const output: string[] = [];
    child = spawn('npx', ['tsx', 'src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start within 30 s:\n${output.join('')}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output.push(chunk.toString());
        const match = /(http:\/\/[\d.]+:\d+\/graphql)/.exec(output.join(''));
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child?.stdout?.on('data', onData);
      child?.stderr?.on('data', onData);
      child?.on('exit', (code) => reject(new Error(`exited with ${code}:\n${output.join('')}`)));
    });
    expect(output.join('')).toMatch(
      /2 deployments from UPSTREAMS_FILE: dead \(http:\/\/127\.0\.0\.1:\d+\/v1\), local/,
    );
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `mutation { createCompletion(input: { model: "gpt-3.5-turbo-instruct", prompt: { text: "Call me Ishmael." }, maxTokens: 6, seed: 7 }) { model usage { completionTokens } } }`,
      }),
    });
    const json = await response.json();
    expect(json.errors).toBeUndefined();
    expect(json.data.createCompletion).toEqual({
      model: 'gpt-3.5-turbo-instruct',
      usage: { completionTokens: 6 },
    });
    expect(json.extensions.usage.calls[0].deployment).toBe('local');
    expect(stub.hits('/completions')).toBe(1);
    expect(stub.requests[0]?.headers.authorization).toBe(`Bearer ${canaryKey}`);
    expect(output.join('')).not.toContain(canaryKey.slice(3, 20));
    await stub.close();
  }, 60_000);
});
