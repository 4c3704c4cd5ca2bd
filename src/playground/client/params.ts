/**
 * The playground's request: one table of every parameter of `CreateCompletionInput` with the
 * ranges the service enforces (test/playground/params.test.ts holds each range against the
 * server), and what turns the form into the GraphQL operation, its variables and a curl line.
 * No DOM here, so the table can be checked in Node.
 */

export type ParamName =
  | 'maxTokens'
  | 'temperature'
  | 'topP'
  | 'n'
  | 'logprobs'
  | 'echo'
  | 'stop'
  | 'presencePenalty'
  | 'frequencyPenalty'
  | 'bestOf'
  | 'logitBias'
  | 'seed'
  | 'suffix'
  | 'user'
  | 'store';

interface BaseSpec {
  name: ParamName;
  label: string;
  /** Shown under the control, and read by screen readers with it. */
  hint: string;
  /** The form's starting value; '' or false sends nothing, so the upstream's default applies. */
  initial: string | boolean;
  /** Under "More parameters", folded until asked for (or until the server complains about it). */
  more?: true;
}

export interface NumberSpec extends BaseSpec {
  kind: 'number';
  min: number;
  /** Absent: no upper bound but the operation's token ceiling. */
  max?: number;
  step: number;
  integer: boolean;
  /** Also a slider, which sits at this value while the field is empty. */
  slider?: { resting: number };
  initial: string;
}

export interface BooleanSpec extends BaseSpec {
  kind: 'boolean';
  initial: boolean;
}

export interface TextSpec extends BaseSpec {
  /** `lines`: one entry per line (stop sequences, logit bias entries). */
  kind: 'text' | 'lines';
  initial: string;
  maxEntries?: number;
}

export type ParamSpec = NumberSpec | BooleanSpec | TextSpec;

/** GraphQL's Int is 32 bits: beyond these the variables do not coerce. */
export const intMin = -2_147_483_648;
export const intMax = 2_147_483_647;

export const paramSpecs: readonly ParamSpec[] = [
  {
    name: 'maxTokens',
    label: 'Maximum tokens',
    kind: 'number',
    min: 0,
    step: 1,
    integer: true,
    initial: '64',
    hint: 'Whole number ≥ 0 (0 only with echo). Empty: the server default (16).',
  },
  {
    name: 'temperature',
    label: 'Temperature',
    kind: 'number',
    min: 0,
    max: 2,
    step: 0.01,
    integer: false,
    slider: { resting: 1 },
    initial: '0.8',
    hint: '0 to 2 (default 1). Higher is more random.',
  },
  {
    name: 'topP',
    label: 'Top P',
    kind: 'number',
    min: 0,
    max: 1,
    step: 0.01,
    integer: false,
    slider: { resting: 1 },
    initial: '',
    hint: '0 to 1 (default 1): sample only from this much probability mass.',
  },
  {
    name: 'n',
    label: 'Choices (n)',
    kind: 'number',
    min: 1,
    max: 128,
    step: 1,
    integer: true,
    initial: '',
    hint: '1 to 128 (default 1), shown side by side.',
  },
  {
    name: 'logprobs',
    label: 'Log probabilities',
    kind: 'number',
    min: 0,
    max: 5,
    step: 1,
    integer: true,
    initial: '3',
    hint: '0 to 5 alternatives per token; empty turns shading off.',
  },
  {
    name: 'presencePenalty',
    more: true,
    label: 'Presence penalty',
    kind: 'number',
    min: -2,
    max: 2,
    step: 0.01,
    integer: false,
    slider: { resting: 0 },
    initial: '',
    hint: '−2 to 2 (default 0).',
  },
  {
    name: 'frequencyPenalty',
    more: true,
    label: 'Frequency penalty',
    kind: 'number',
    min: -2,
    max: 2,
    step: 0.01,
    integer: false,
    slider: { resting: 0 },
    initial: '',
    hint: '−2 to 2 (default 0).',
  },
  {
    name: 'bestOf',
    more: true,
    label: 'Best of',
    kind: 'number',
    min: 1,
    max: 20,
    step: 1,
    integer: true,
    initial: '',
    hint: '1 to 20, at least n; a stream takes only 1.',
  },
  {
    name: 'seed',
    label: 'Seed',
    kind: 'number',
    min: intMin,
    max: intMax,
    step: 1,
    integer: true,
    initial: '',
    hint: 'Whole number: the same seed and parameters give the same text.',
  },
  {
    name: 'stop',
    more: true,
    label: 'Stop sequences',
    kind: 'lines',
    maxEntries: 4,
    initial: '',
    hint: 'Up to 4, one per line; \\n and \\t are read as escapes.',
  },
  {
    name: 'logitBias',
    more: true,
    label: 'Logit bias',
    kind: 'lines',
    maxEntries: 300,
    initial: '',
    hint: 'token id: bias (−100 to 100), one per line.',
  },
  {
    more: true,
    name: 'suffix',
    label: 'Suffix',
    kind: 'text',
    initial: '',
    hint: 'Text after the insertion point.',
  },
  {
    more: true,
    name: 'user',
    label: 'End-user id',
    kind: 'text',
    initial: '',
    hint: 'Passed on to the upstream.',
  },
  {
    name: 'echo',
    label: 'Echo the prompt',
    kind: 'boolean',
    initial: false,
    hint: 'Its tokens are shaded too.',
  },
  {
    name: 'store',
    more: true,
    label: 'Store the completion',
    kind: 'boolean',
    initial: false,
    hint: 'Readable later by id.',
  },
];

export type FormValues = Partial<Record<ParamName, string | boolean>>;

export interface ClientProblem {
  name: ParamName | 'model' | 'prompt';
  message: string;
}

export type CompletionInput = Record<string, unknown> & { model: string; prompt: { text: string } };

/** `\n`, `\t` and `\\` in a stop sequence typed on one line. */
function readEscapes(text: string): string {
  return text.replace(/\\([nt\\])/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : '\\'));
}

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.trim() !== '');
}

/**
 * The form as `CreateCompletionInput`. Out-of-range numbers are sent as typed: the server's
 * BAD_USER_INPUT is the authority and is shown beside the control. Only what cannot be put into
 * the input's shape at all (text in a number field, a malformed bias line) is a problem here.
 */
export function buildInput(
  model: string,
  prompt: string,
  values: FormValues,
): { input: CompletionInput; problems: ClientProblem[] } {
  const input: CompletionInput = { model, prompt: { text: prompt } };
  const problems: ClientProblem[] = [];
  if (model === '') problems.push({ name: 'model', message: 'Choose a model.' });
  for (const spec of paramSpecs) {
    const value = values[spec.name] ?? spec.initial;
    if (spec.kind === 'boolean') {
      if (value === true) input[spec.name] = true;
      continue;
    }
    const text = String(value).trim();
    if (text === '') continue;
    if (spec.kind === 'number') {
      const number = Number(text);
      if (!Number.isFinite(number))
        problems.push({ name: spec.name, message: `${spec.label} must be a number.` });
      else input[spec.name] = number;
    } else if (spec.name === 'stop') {
      input.stop = lines(String(value)).map(readEscapes);
    } else if (spec.name === 'logitBias') {
      const entries: { token: number; bias: number }[] = [];
      for (const [i, line] of lines(String(value)).entries()) {
        const match = /^\s*(\d+)\s*[:=]\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line);
        if (match === null) {
          problems.push({ name: 'logitBias', message: `Line ${i + 1} is not “token id: bias”.` });
          break;
        }
        entries.push({ token: Number(match[1]), bias: Number(match[2]) });
      }
      input.logitBias = entries;
    } else {
      input[spec.name] = String(value);
    }
  }
  // Usage and time per run need the stream's last event.
  input.streamOptions = { includeUsage: true };
  return { input, problems };
}
