import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, resolveRateLimit } from '../../src/config.js';
import { LOCAL_MODEL_ID } from '../../src/local/provider.js';
import { localEngineModel, parseUpstreamsFile, UpstreamsFileError } from '../../src/routing/config-file.js';

/** UPSTREAMS_FILE: the shipped example reads, and every mistake names its line and field. */

const dir = mkdtempSync(join(tmpdir(), 'upstreams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const example = readFileSync(new URL('../../examples/upstreams.yaml', import.meta.url), 'utf8');
const keys = { OPENAI_KEY_A: 'sk-a', OPENAI_KEY_B: 'sk-b' };

const problem = (text: string, env: Record<string, string> = {}): string => {
  try {
    parseUpstreamsFile(text, env);
  } catch (error) {
    if (error instanceof UpstreamsFileError) return error.message;
    throw error;
  }
  throw new Error('expected an UpstreamsFileError');
};

describe('the example file', () => {
  const spec = parseUpstreamsFile(example, keys);

  it('reads: deployments with keys from the environment, aliases, routes in order', () => {
    expect(spec.deployments.map((d) => d.name)).toEqual(['openai-a', 'openai-b', 'vllm', 'local']);
    expect(spec.deployments[0]).toMatchObject({ apiKey: 'sk-a', rpm: 3000, tpm: 250000, weight: 1 });
    expect(spec.deployments[1]).toMatchObject({ weight: 2, timeoutMs: 15000, maxRetries: 0 });
    expect(spec.deployments[2]?.models.get('llama-3.1-8b')).toBe('meta-llama/Llama-3.1-8B');
    const routes = Object.fromEntries(spec.routes.map((r) => [r.model, r]));
    expect(routes['gpt-3.5-turbo-instruct']?.groups).toEqual([['openai-a', 'openai-b'], ['vllm'], ['local']]);
    expect(routes['llama-3.1-8b']).toMatchObject({ balance: 'least-outstanding', groups: [['vllm']] });
    // Served but not routed: one group of every deployment that lists it.
    expect(routes['davinci-002']?.groups).toEqual([['openai-a']]);
    expect(routes.cheap?.groups).toEqual([['local']]);
  });

  it('the same in JSON', () => {
    const json = JSON.stringify({
      deployments: [{ name: 'a', kind: 'openai', baseUrl: 'http://127.0.0.1:1/v1/', models: ['m'] }],
    });
    expect(parseUpstreamsFile(json, {}).deployments[0]).toMatchObject({ baseUrl: 'http://127.0.0.1:1/v1' });
  });

  it('names the local engine model as the engine does', () => {
    expect(localEngineModel).toBe(LOCAL_MODEL_ID);
  });
});

describe('mistakes name their line and field', () => {
  it.each([
    ['deployments:\n  - name: x\n    kind: foo\n', /^line 3, deployments\[0\]\.kind: .*"openai"\|"local"/],
    ['deployments:\n  - { name: a, kind: local, wieght: 2 }\n', /^line 2, deployments\[0\]: .*"wieght"/],
    [
      'deployments:\n  - { name: a, kind: openai, baseUrl: "http://x/v1", models: [m], apiKey: sk-1 }\n',
      /^line 2, deployments\[0\]: .*apiKey.*apiKeyEnv/,
    ],
    [
      'deployments: [{name: a, kind: local}]\nroutes:\n  m: [[b]]\n',
      /^line 3, routes\.m\[0\]\[0\]: no deployment is named "b"/,
    ],
    [
      'deployments:\n  - { name: a, kind: local }\n  - { name: b, kind: openai, baseUrl: "http://x/v1", models: [m] }\nroutes:\n  m:\n    groups: [[b, a]]\n',
      /^line 6, routes\.m\.groups\[0\]\[1\]: deployment "a" does not serve "m"/,
    ],
    [
      'deployments:\n  - { name: a, kind: local }\n  - { name: a, kind: local }\n',
      /^line 3, deployments\[1\]\.name: .*twice/,
    ],
    [
      'deployments:\n  - { name: a, kind: openai, models: [m] }\n',
      /^line 2, deployments\[0\]: .*needs baseUrl/,
    ],
    [
      'deployments:\n  - { name: a, kind: openai, baseUrl: "ftp://x", models: [m] }\n',
      /^line 2, deployments\[0\]\.baseUrl: .*http/,
    ],
    [
      'deployments:\n  - { name: a, kind: local, models: { m: other } }\n',
      /^line 2, deployments\[0\]\.models\.m: .*only "local-ngram/,
    ],
    ['deployments:\n  - {name: a, kind: local, weight: 0}\n', /^line 2, deployments\[0\]\.weight: /],
    ['deployments:\n  - {name: a, kind: local, rpm: 1.5}\n', /^line 2, deployments\[0\]\.rpm: /],
    ['deployments: []\n', /^line 1, deployments: must list at least one deployment/],
    ['deployments:\n  - { name: a\n', /^line \d+: /],
    [
      'deployments:\n  - { name: a, kind: openai, baseUrl: "https://api.openai.com/v1", models: [m] }\n',
      /needs apiKeyEnv/,
    ],
    [
      'deployments:\n  - { name: a, kind: openai, baseUrl: "http://user:s3cretpw@127.0.0.1:1/v1", models: [m] }\n',
      /^line 2, deployments\[0\]\.baseUrl: must not hold credentials/,
    ],
  ])('%j', (text, expected) => {
    expect(problem(text)).toMatch(expected);
  });

  it('a key variable that is not set is named, its value never is', () => {
    const text =
      'deployments:\n  - { name: a, kind: openai, baseUrl: "http://x/v1", models: [m], apiKeyEnv: KEY_A }\n';
    expect(problem(text)).toBe('line 2, deployments[0].apiKeyEnv: the environment variable KEY_A is not set');
    expect(parseUpstreamsFile(text, { KEY_A: 'sk-secret' }).deployments[0]?.apiKey).toBe('sk-secret');
  });
});

describe('through loadConfig', () => {
  it('UPSTREAMS_FILE is read with the configuration, the keys from the same environment', () => {
    const file = join(dir, 'upstreams.yaml');
    writeFileSync(file, example);
    const config = loadConfig({ UPSTREAMS_FILE: file, ...keys });
    expect(config.upstreams?.deployments).toHaveLength(4);
    // A paid deployment in the file: the paid defaults of the client budgets apply.
    expect(resolveRateLimit(config).requestsPerMinute).toBe(120);
  });

  it('a bad file stops the start, naming the variable, the file and the line', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'deployments:\n  - { name: a, kind: nope }\n');
    expect(() => loadConfig({ UPSTREAMS_FILE: file })).toThrow(ConfigError);
    expect(() => loadConfig({ UPSTREAMS_FILE: file })).toThrow(
      new RegExp(`^UPSTREAMS_FILE ${file}: line 2, deployments\\[0\\]\\.kind`),
    );
  });

  it('a prompt template on a model no route serves stops the start; the example prompts fit the example routes', () => {
    const file = join(dir, 'upstreams-for-prompts.yaml');
    writeFileSync(file, example);
    const prompts = fileURLToPath(new URL('../../examples/prompts.yaml', import.meta.url));
    expect(
      loadConfig({ UPSTREAMS_FILE: file, PROMPTS_FILE: prompts, ...keys }).prompts.templates.length,
    ).toBeGreaterThan(0);
    const stray = join(dir, 'stray-prompts.yaml');
    writeFileSync(
      stray,
      'templates:\n  hi:\n    description: d\n    prompt: "Hi {{who}}"\n    variables: { who: String! }\n    model: gpt-9\n',
    );
    expect(() => loadConfig({ UPSTREAMS_FILE: file, PROMPTS_FILE: stray, ...keys })).toThrow(
      /^PROMPTS_FILE: template hi uses model gpt-9, which UPSTREAMS_FILE does not serve \(it serves: gpt-3\.5-turbo-instruct, /,
    );
  });

  it('without it, nothing changes: no routing, the old variables describe the one upstream', () => {
    expect(loadConfig({ OPENAI_API_KEY: 'sk-x' }).upstreams).toBeUndefined();
  });
});
