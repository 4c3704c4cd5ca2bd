import { logprobText, millisecondsText, percentText, rateText, shadeBucket, tokenText } from './format.js';
import type { GraphQLErrorShape } from './graphql.js';

/** A run's output: one column per choice, filled token by token, with the run's figures. */

export interface TopLogprob {
  token: string;
  logprob: number;
}

interface StreamChoice {
  index: number;
  text: string;
  finishReason: string | null;
  logprobs: {
    tokens: string[];
    tokenLogprobs: (number | null)[];
    topLogprobs: (TopLogprob[] | null)[] | null;
  } | null;
}

export interface StreamChunk {
  id: string;
  model: string;
  choices: StreamChoice[];
  usage: { promptTokens: number; completionTokens: number; totalTokens: number } | null;
}

/** What the alternatives popover shows for a token. */
export interface TokenInfo {
  token: string;
  logprob: number | null;
  top: TopLogprob[] | null;
  prompt: boolean;
}

export const tokenInfo = new WeakMap<HTMLElement, TokenInfo>();

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) if (value !== undefined) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

class ChoiceView {
  readonly root: HTMLElement;
  readonly tokens: HTMLElement;
  private readonly finish: HTMLElement;
  /** Characters shown so far: with echo, the first `promptLength` are the prompt's. */
  private shown = 0;
  generated = 0;
  text = '';

  constructor(
    parent: HTMLElement,
    readonly index: number,
    private readonly promptLength: number,
  ) {
    this.root = element('section', { class: 'choice', 'aria-label': `Choice ${index + 1}` });
    const head = element('div', { class: 'choice-head' });
    head.append(element('h4', {}, `Choice ${index + 1}`));
    const copy = element('button', { type: 'button', class: 'small' }, 'Copy text');
    copy.addEventListener('click', () => void navigator.clipboard?.writeText(this.text));
    head.append(copy);
    this.tokens = element('div', {
      class: 'tokens',
      role: 'group',
      'aria-label': `Choice ${index + 1} text. Arrow keys move between tokens; each names its probability.`,
    });
    this.finish = element('p', { class: 'finish' });
    this.root.append(head, this.tokens, this.finish);
    parent.append(this.root);
  }

  add(choice: StreamChoice): void {
    const { logprobs } = choice;
    if (logprobs && logprobs.tokens.join('') === choice.text) {
      for (const [i, token] of logprobs.tokens.entries()) {
        this.addToken(token, logprobs.tokenLogprobs[i] ?? null, logprobs.topLogprobs?.[i] ?? null);
      }
    } else if (choice.text !== '') {
      const prompt = this.shown < this.promptLength;
      this.tokens.append(element('span', { class: prompt ? 'piece prompt' : 'piece' }, choice.text));
      this.shown += choice.text.length;
      if (!prompt) this.generated++;
    }
    this.text += choice.text;
    if (choice.finishReason !== null) this.finish.textContent = `Finished: ${choice.finishReason}`;
  }

  private addToken(token: string, logprob: number | null, top: TopLogprob[] | null): void {
    const prompt = this.shown < this.promptLength;
    this.shown += token.length;
    if (!prompt) this.generated++;
    const span = element('span', {
      class: ['tok', prompt ? 'prompt' : '', logprob === null ? 'unscored' : `p${shadeBucket(logprob)}`]
        .filter(Boolean)
        .join(' '),
      role: 'button',
      tabindex: this.tokens.childElementCount === 0 ? '0' : '-1',
      'aria-describedby': 'token-popover',
      'aria-label': `${tokenText(token)}, ${logprob === null ? 'no probability' : `${percentText(logprob)}`}${prompt ? ', prompt' : ''}`,
      ...(logprob === null ? {} : { 'data-p': percentText(logprob), 'data-logprob': logprobText(logprob) }),
    });
    span.textContent = token;
    tokenInfo.set(span, { token, logprob, top, prompt });
    this.tokens.append(span);
  }
}

export class RunView {
  readonly root: HTMLElement;
  private readonly choices = new Map<number, ChoiceView>();
  private readonly grid: HTMLElement;
  private readonly stats = new Map<string, HTMLElement>();
  private readonly problems: HTMLElement;
  private firstTokenAt: number | undefined;
  private lastTokenAt: number | undefined;
  private usage: StreamChunk['usage'] = null;

  constructor(
    parent: HTMLElement,
    title: string,
    private readonly startedAt: number,
    private readonly options: { promptLength: number; n: number },
  ) {
    this.root = element('section', { class: 'run', 'aria-label': title });
    this.root.append(element('h3', {}, title));
    const dl = element('dl', { class: 'stats' });
    for (const [key, label] of [
      ['ttft', 'Time to first token'],
      ['rate', 'Tokens/s after the first'],
      ['usage', 'Tokens: prompt + completion = total'],
      ['duration', 'Duration'],
      ['state', 'State'],
      ['request', 'Request id'],
    ] as const) {
      const dd = element('dd', { 'data-stat': key }, '—');
      dl.append(element('dt', {}, label), dd);
      this.stats.set(key, dd);
    }
    this.problems = element('div', { class: 'run-errors', role: 'alert' });
    this.grid = element('div', { class: 'choices' });
    this.root.append(dl, this.problems, this.grid);
    parent.append(this.root);
    for (let i = 0; i < options.n; i++) this.choice(i);
    this.set('state', 'running');
  }

  private choice(index: number): ChoiceView {
    let view = this.choices.get(index);
    if (view === undefined) {
      view = new ChoiceView(this.grid, index, this.options.promptLength);
      this.choices.set(index, view);
    }
    return view;
  }

  private set(key: string, text: string): void {
    const dd = this.stats.get(key);
    if (dd) dd.textContent = text;
  }

  opened(requestId: string | null): void {
    this.set('request', requestId ?? '—');
  }

  add(chunk: StreamChunk, now: number): void {
    for (const choice of chunk.choices) {
      const view = this.choice(choice.index);
      const before = view.generated;
      view.add(choice);
      if (view.generated > before) {
        this.firstTokenAt ??= now;
        this.lastTokenAt = now;
      }
    }
    if (chunk.usage) this.usage = chunk.usage;
    this.refresh(now);
  }

  private refresh(now: number): void {
    if (this.firstTokenAt !== undefined)
      this.set('ttft', millisecondsText(this.firstTokenAt - this.startedAt));
    const counted = [...this.choices.values()].reduce((sum, view) => sum + view.generated, 0);
    const tokens = this.usage?.completionTokens ?? counted;
    if (this.firstTokenAt !== undefined && this.lastTokenAt !== undefined) {
      this.set('rate', rateText(tokens - 1, this.lastTokenAt - this.firstTokenAt));
    }
    this.set(
      'usage',
      this.usage
        ? `${this.usage.promptTokens} + ${this.usage.completionTokens} = ${this.usage.totalTokens}`
        : `… + ${counted}`,
    );
    this.set('duration', millisecondsText(now - this.startedAt));
  }

  showErrors(errors: GraphQLErrorShape[]): void {
    for (const error of errors) {
      const code = typeof error.extensions?.code === 'string' ? error.extensions.code : 'ERROR';
      const line = element('p', { class: 'error' });
      line.append(element('code', {}, code), document.createTextNode(` ${error.message}`));
      this.problems.append(line);
    }
  }

  finish(state: 'complete' | 'stopped' | 'failed', now: number): void {
    this.refresh(now);
    this.set('state', state);
    this.root.dataset.state = state;
  }

  summary(): string {
    const tokens =
      this.usage?.completionTokens ?? [...this.choices.values()].reduce((s, v) => s + v.generated, 0);
    return `${tokens} tokens`;
  }
}
