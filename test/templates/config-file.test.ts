import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { parsePromptsFile } from '../../src/templates/config-file.js';
import { PromptsFileError } from '../../src/templates/errors.js';
import { renderPrompt } from '../../src/templates/template.js';

/** PROMPTS_FILE: the shipped example reads, and every mistake names its line and field. */

const dir = mkdtempSync(join(tmpdir(), 'prompts-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const examplePath = new URL('../../examples/prompts.yaml', import.meta.url);
const example = readFileSync(examplePath, 'utf8');

const problem = (text: string): string => {
  try {
    parsePromptsFile(text);
  } catch (error) {
    if (error instanceof PromptsFileError) return error.message;
    throw error;
  }
  throw new Error('expected a PromptsFileError');
};

const one = (fields: string) =>
  `templates:\n  t:\n    description: d\n    model: m\n${fields.replace(/^/gm, '    ')}\n`;

describe('the example file', () => {
  const templates = parsePromptsFile(example);

  it('reads every template with its variables, model, parameters and cache policy', () => {
    expect(templates.map((t) => t.name)).toEqual(['productSummary', 'supportReply', 'tagline']);
    const [summary, reply] = templates;
    expect(summary).toMatchObject({
      description: 'A two-sentence summary of a product for listing pages.',
      model: 'gpt-3.5-turbo-instruct',
      parameters: { maxTokens: 80, temperature: 0, stop: ['\n\n'] },
      cache: { ttlSeconds: 86400, reuse: 'deterministic' },
      entity: { type: 'Product', key: 'id', field: 'aiSummary' },
    });
    expect(summary?.variables).toEqual([
      { name: 'name', scalar: 'String', required: true, maxLength: 200 },
      { name: 'description', scalar: 'String', required: false, maxLength: 4000 },
    ]);
    expect(reply?.variables.find((v) => v.name === 'sentences')).toEqual({
      name: 'sentences',
      scalar: 'Int',
      required: true,
    });
  });

  it('is what loadConfig serves with PROMPTS_FILE, raw prompts allowed unless ALLOW_RAW_PROMPTS=false', () => {
    const path = examplePath.pathname;
    expect(loadConfig({}).prompts).toEqual({ templates: [], allowRawPrompts: true, cacheStore: 'auto' });
    const config = loadConfig({ PROMPTS_FILE: path, ALLOW_RAW_PROMPTS: 'false' });
    expect(config.prompts.allowRawPrompts).toBe(false);
    expect(config.prompts.templates.map((t) => t.name)).toEqual(templates.map((t) => t.name));
  });

  it('PROMPT_CACHE_STORE: one of its words; redis only with REDIS_URL', () => {
    expect(loadConfig({ PROMPT_CACHE_STORE: 'Memory' }).prompts.cacheStore).toBe('memory');
    expect(loadConfig({ PROMPT_CACHE_STORE: 'off' }).prompts.cacheStore).toBe('off');
    expect(() => loadConfig({ PROMPT_CACHE_STORE: 'disk' })).toThrow(
      'PROMPT_CACHE_STORE must be one of auto, database, redis, memory, off; got "disk"',
    );
    expect(() => loadConfig({ PROMPT_CACHE_STORE: 'redis' })).toThrow(
      'PROMPT_CACHE_STORE=redis needs REDIS_URL',
    );
    expect(
      loadConfig({ PROMPT_CACHE_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:6379' }).prompts.cacheStore,
    ).toBe('redis');
  });

  it('maxPromptsPerCall: for every entity template, or per binding; 1 to 2048', () => {
    const entity = (extra = '') =>
      `templates:\n  s:\n    description: d\n    model: m\n    prompt: "S {{name}}"\n    variables: { name: String! }\n    entity: { type: Product, field: aiS${extra} }\n`;
    expect(parsePromptsFile(entity())[0]?.entity?.maxPromptsPerCall).toBe(100);
    expect(parsePromptsFile(`maxPromptsPerCall: 20\n${entity()}`)[0]?.entity?.maxPromptsPerCall).toBe(20);
    expect(
      parsePromptsFile(`maxPromptsPerCall: 20\n${entity(', maxPromptsPerCall: 7')}`)[0]?.entity
        ?.maxPromptsPerCall,
    ).toBe(7);
    expect(() => parsePromptsFile(`maxPromptsPerCall: 0\n${entity()}`)).toThrow(/maxPromptsPerCall/);
  });

  it('the same in JSON', () => {
    const json = JSON.stringify({
      templates: {
        hi: { description: 'd', model: 'm', prompt: 'Hi {{who}}', variables: { who: 'String!' } },
      },
    });
    expect(parsePromptsFile(json)[0]).toMatchObject({ name: 'hi', parameters: {} });
  });
});

describe('substitution', () => {
  const [template] = parsePromptsFile(
    one('prompt: "A {{a}} B {{ b }} C {{a}}"\nvariables: { a: String!, b: Int }'),
  );
  if (template === undefined) throw new Error('no template');

  it('replaces each placeholder by its value as data, in one pass', () => {
    expect(renderPrompt(template, { a: '{{b}}', b: 3 })).toBe('A {{b}} B 3 C {{b}}');
    expect(renderPrompt(template, { a: 'x' })).toBe('A x B  C x');
  });
});

describe('mistakes name their line and field', () => {
  it.each([
    [one('prompt: "Hi {{who}}"'), /^line 5, templates\.t\.prompt: .*\{\{who\}\} is not a declared variable/],
    [
      one('prompt: "Hi"\nvariables: { who: String }'),
      /^line 6, templates\.t\.variables\.who: is declared but the prompt has no \{\{who\}\}/,
    ],
    [one('prompt: "Hi {{who}}"\nvariables: { who: Strin }'), /^line 6, templates\.t\.variables\.who: /],
    [
      one('prompt: "Hi {{n}}"\nvariables: { n: { type: Int, maxLength: 3 } }'),
      /^line 6, templates\.t\.variables\.n\.maxLength: applies to String variables only/,
    ],
    [one('prompt: "Hi {{ 1x }}"'), /^line 5, templates\.t\.prompt: "\{\{ 1x \}\}" is not a placeholder/],
    [one('prompt: "Hi"\nparameters: { temprature: 0 }'), /^line 6, templates\.t\.parameters: .*"temprature"/],
    [
      one('prompt: "Hi"\nparameters: { temperature: 3 }'),
      /^line 6, templates\.t\.parameters\.temperature: must be between 0 and 2/,
    ],
    [one('prompt: "Hi"\ncache: { ttlSeconds: 0 }'), /^line 6, templates\.t\.cache\.ttlSeconds: /],
    [
      one('prompt: "Hi"\ncache: { ttlSeconds: 5, reuse: sometimes }'),
      /^line 6, templates\.t\.cache\.reuse: /,
    ],
    [
      one('prompt: "Hi {{overrides}}"\nvariables: { overrides: String }'),
      /templates\.t\.variables\.overrides: /,
    ],
    [
      one('prompt: "Hi {{n}}"\nvariables: { n: String }\nentity: { type: Product }'),
      /^line 7, templates\.t\.entity\.field: /,
    ],
    [
      one(
        'prompt: "Hi {{n}}"\nvariables: { n: String }\nentity: { type: P, field: f, requires: { n: String! } }',
      ),
      /^line 7, templates\.t\.entity\.requires\.n: is String! here but the variable is String/,
    ],
    [
      one(
        'prompt: "Hi {{n}} {{m}}"\nvariables: { n: String, m: Int }\nentity: { type: P, field: f, requires: { n: String } }',
      ),
      /^line 7, templates\.t\.entity\.requires: must list every variable: m is missing/,
    ],
    [
      one('prompt: "Hi {{id}}"\nvariables: { id: String }\nentity: { type: P, field: f }'),
      /^line 7, templates\.t\.entity\.key: is sent by the gateway/,
    ],
    [
      'templates:\n  2bad: { description: d, model: m, prompt: p }\n',
      /^line 2, templates\.2bad: must be a GraphQL name/,
    ],
    ['templates:\n  t: { model: m, prompt: p }\n', /^line 2, templates\.t\.description: /],
    ['templates: {}\n', /^line 1, templates: must define at least one template/],
    ['templates:\n  t: [\n', /^line \d+: /],
  ])('%#', (text, expected) => {
    expect(problem(text)).toMatch(expected);
  });

  it('stops the start naming the variable and the file', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, one('prompt: "Hi {{who}}"'));
    expect(() => loadConfig({ PROMPTS_FILE: path })).toThrow(ConfigError);
    expect(() => loadConfig({ PROMPTS_FILE: path })).toThrow(
      /^PROMPTS_FILE .*bad\.yaml: line 5, templates\.t\.prompt/,
    );
    expect(() => loadConfig({ ALLOW_RAW_PROMPTS: 'maybe' })).toThrow(
      /ALLOW_RAW_PROMPTS must be true or false/,
    );
  });
});

describe('YAML aliases', () => {
  it('a file sharing one anchor among 120 templates reads', () => {
    const templates = Array.from(
      { length: 120 },
      (_, i) =>
        `  t${i}:\n    description: d\n    model: m\n    prompt: "p {{v}}"\n    variables: { v: String }\n    parameters: ${i === 0 ? '&p { maxTokens: 10 }' : '*p'}\n`,
    );
    expect(parsePromptsFile(`templates:\n${templates.join('')}`)).toHaveLength(120);
  });

  it('a nest of aliases built to blow up is refused with a reason, not "unreadable"', () => {
    const level = (name: string, of: string) => `${name}: &${name} [${Array(9).fill(`*${of}`).join(',')}]\n`;
    const laughs = `a: &a [x,x,x,x,x,x,x,x,x]\n${level('b', 'a')}${level('c', 'b')}${level('d', 'c')}${level('e', 'd')}${level('f', 'e')}templates: {}\n`;
    expect(problem(laughs)).toMatch(/uses aliases \(\*name\) too much/);
  });
});

describe('a template that could never run', () => {
  it('stops the start: its own text alone is over MAX_ESTIMATED_TOKENS_PER_OPERATION', () => {
    const path = join(dir, 'huge.yaml');
    writeFileSync(path, one(`prompt: "${'whale '.repeat(40_000)}{{v}}"\nvariables: { v: String }`));
    expect(() => loadConfig({ PROMPTS_FILE: path })).toThrow(
      /PROMPTS_FILE: template t can never run: its own text is estimated at \d+ tokens, over MAX_ESTIMATED_TOKENS_PER_OPERATION \(16384\)/,
    );
    expect(
      loadConfig({ PROMPTS_FILE: path, MAX_ESTIMATED_TOKENS_PER_OPERATION: '1000000' }).prompts.templates,
    ).toHaveLength(1);
  });
});
