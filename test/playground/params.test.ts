import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInput, type NumberSpec, paramSpecs } from '../../src/playground/client/params.js';
import { controlForError, curlCommand, operationBody } from '../../src/playground/client/request.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/**
 * The playground's controls promise the ranges the service enforces. Each bound is sent to the
 * real GraphQL API: the bound itself is accepted, one step past it is BAD_USER_INPUT naming the
 * control's argument.
 */

let stubbed: StubbedApp;

beforeAll(async () => {
  stubbed = await startStubbedApp();
  stubbed.stub.on('POST', '/completions', reply.completionOrStream());
});

afterAll(async () => {
  if (stubbed) await stopStubbedApp(stubbed);
});

const mutation = 'mutation($input: CreateCompletionInput!) { createCompletion(input: $input) { id } }';

async function send(name: string, value: number) {
  // maxTokens 1 keeps every accepted call under the cost ceiling; 0 tokens are allowed only with echo.
  const input = {
    model: 'm',
    prompt: { text: 'x' },
    maxTokens: 1,
    ...(name === 'maxTokens' ? { echo: true } : {}),
  };
  const response = await stubbed.app.post(mutation, { input: { ...input, [name]: value } });
  return response.json.errors?.[0] as { message: string; extensions: Record<string, unknown> } | undefined;
}

const numbers = paramSpecs.filter((spec): spec is NumberSpec => spec.kind === 'number');

describe('the playground parameter table against the server', () => {
  it.each(numbers.map((spec) => [spec.name, spec] as const))(
    '%s: bounds accepted, beyond refused',
    async (name, spec) => {
      const beyond = spec.integer ? 1 : 0.01;
      const accepted = [spec.min, ...(spec.max === undefined ? [] : [spec.max])];
      for (const value of accepted) {
        const error = await send(name, value);
        expect(error?.extensions.code, `${name} = ${value}`).not.toBe('BAD_USER_INPUT');
      }
      for (const value of [spec.min - beyond, ...(spec.max === undefined ? [] : [spec.max + beyond])]) {
        if (name === 'maxTokens') continue; // 0 is the floor only with echo; -1 checked below
        const error = await send(name, value);
        expect(error?.extensions.code, `${name} = ${value}`).toBe('BAD_USER_INPUT');
        expect(error && controlForError(error)).toBe(name);
      }
    },
  );

  it('maxTokens below 0 and text options past their counts are refused and placed', async () => {
    const negative = await send('maxTokens', -1);
    expect(negative && controlForError(negative)).toBe('maxTokens');
    const { input } = buildInput('m', 'x', { stop: 'a\nb\nc\nd\ne' });
    const response = await stubbed.app.post(mutation, { input: { ...input, streamOptions: undefined } });
    expect(controlForError(response.json.errors[0])).toBe('stop');
  });
});

describe('buildInput, the operation and curl', () => {
  it('sends only what is set, as typed, with usage asked for', () => {
    const { input, problems } = buildInput('m', 'Hello', {
      maxTokens: '5',
      temperature: '3',
      topP: '',
      stop: 'END\\n\n\n###',
      logitBias: '50256: -100\n13=5.5',
      echo: true,
      store: false,
      suffix: ' done',
    });
    expect(problems).toEqual([]);
    expect(input).toEqual({
      model: 'm',
      prompt: { text: 'Hello' },
      maxTokens: 5,
      temperature: 3,
      logprobs: 3,
      stop: ['END\n', '###'],
      logitBias: [
        { token: 50256, bias: -100 },
        { token: 13, bias: 5.5 },
      ],
      echo: true,
      suffix: ' done',
      streamOptions: { includeUsage: true },
    });
  });

  it('names what cannot be sent at all', () => {
    const { problems } = buildInput('', 'x', { temperature: 'warm', logitBias: '50256 -100' });
    expect(problems).toEqual([
      { name: 'model', message: 'Choose a model.' },
      { name: 'temperature', message: 'Temperature must be a number.' },
      { name: 'logitBias', message: 'Line 1 is not “token id: bias”.' },
    ]);
  });

  it('quotes curl for a POSIX shell and never writes the key', () => {
    const body = operationBody(buildInput('m', "it's", {}).input);
    const curl = curlCommand('http://127.0.0.1:4000/graphql', body, true);
    expect(curl).toContain(`'\\''`);
    expect(curl).toContain('-H "authorization: Bearer $CLIENT_KEY"');
    const data = /--data-raw '(.*)'$/s.exec(curl)?.[1]?.replace(/'\\''/g, "'");
    expect(JSON.parse(data ?? '')).toEqual(body);
    expect(curlCommand('http://h/graphql', body, false)).not.toContain('authorization');
  });

  it('finds the control of an error by its argument or by the path in a coercion message', () => {
    expect(controlForError({ message: '', extensions: { argument: 'input.topP' } })).toBe('topP');
    expect(controlForError({ message: '', extensions: { argument: 'input.logitBias' } })).toBe('logitBias');
    expect(controlForError({ message: '', extensions: { argument: 'input' } })).toBeUndefined();
    expect(
      controlForError({
        message: 'Variable "$input" got invalid value 1.5 at "input.logitBias[0].bias"; Float cannot…',
      }),
    ).toBe('logitBias');
    expect(controlForError({ message: 'Rate limited' })).toBeUndefined();
  });
});
