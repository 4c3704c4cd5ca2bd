/**
 * One candidate completion as a step machine: each `step()` does one model evaluation (scoring an
 * echoed prompt token, or sampling one new token), so the caller can slice the work and interleave
 * candidates. It owns the text, the stop-sequence search and the logprobs bookkeeping.
 */
import type { WireLogprobs } from '../upstream/wire.js';
import type { Rng } from './rng.js';
import type { Sampler, StepResult } from './sampler.js';
import { EOT, IncrementalDecoder, tokenDisplay } from './tokenizer.js';

export interface ChoiceSettings {
  maxTokens: number;
  stop: readonly string[];
  /** null: no logprobs; else how many alternatives per token. */
  logprobs: number | null;
  echo: boolean;
}

/** What a step produced for the stream: new text safe to show, its token's logprobs, the end. */
export interface ChoiceEvent {
  text: string;
  logprobs: WireLogprobs | null;
  finishReason: 'stop' | 'length' | null;
}

interface TokenEntry {
  token: string;
  logprob: number | null;
  top: Record<string, number> | null;
  /** Offset in the choice's returned text (echoed prompt included). */
  offset: number;
}

function topMap(top: [number, number][] | null): Record<string, number> | null {
  if (top === null) return null;
  const map: Record<string, number> = {};
  for (const [token, logprob] of top) map[tokenDisplay(token)] = logprob;
  return map;
}

function asLogprobs(entries: readonly TokenEntry[]): WireLogprobs {
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => e.top),
    text_offset: entries.map((e) => e.offset),
  };
}

export class ChoiceGenerator {
  private readonly hist: Uint32Array;
  private end: number;
  private readonly promptEnd: number;
  private echoNext: number;
  private readonly counts = new Map<number, number>();
  private readonly prompt = new IncrementalDecoder();
  private readonly completion = new IncrementalDecoder();
  private promptText = '';
  private promptEntries = 0;
  private readonly entries: TokenEntry[] = [];
  private readonly maxStop: number;
  /** Completion text already handed out by `step()` (streaming). */
  private emitted = 0;
  private cut = -1;
  finishReason: 'stop' | 'length' | null = null;
  /** Tokens generated (sampled, end-of-text excluded): what `completion_tokens` counts. */
  generated = 0;
  private logprobSum = 0;
  private sampled = 0;

  constructor(
    private readonly sampler: Sampler,
    private readonly rng: Rng,
    prompt: readonly number[],
    private readonly settings: ChoiceSettings,
  ) {
    // The context starts with <|endoftext|>, as documents do in training.
    this.hist = new Uint32Array(1 + prompt.length + settings.maxTokens);
    this.hist[0] = EOT;
    this.hist.set(prompt, 1);
    this.promptEnd = 1 + prompt.length;
    this.end = this.promptEnd;
    this.echoNext = settings.echo ? 1 : this.promptEnd;
    this.maxStop = Math.max(0, ...settings.stop.map((s) => s.length));
  }

  get done(): boolean {
    return this.finishReason !== null;
  }

  /** best_of ranking: mean logprob of the sampled tokens. */
  get score(): number {
    return this.sampled === 0 ? 0 : this.logprobSum / this.sampled;
  }

  private get wantsLogprobs(): boolean {
    return this.settings.logprobs !== null;
  }

  private record(offset: number, token: number, result: StepResult | null): TokenEntry | null {
    if (!this.wantsLogprobs) return null;
    const entry: TokenEntry = {
      token: tokenDisplay(token),
      logprob: result === null ? null : result.logprob,
      top: result === null ? null : topMap(result.top),
      offset,
    };
    this.entries.push(entry);
    return entry;
  }

  step(): ChoiceEvent | undefined {
    if (this.done) return undefined;
    if (this.echoNext < this.promptEnd) return this.echoStep();
    if (this.generated >= this.settings.maxTokens) return this.finish('length', [], '');
    const result = this.sampler.step(this.hist, this.end, this.counts, this.rng);
    this.sampled++;
    this.logprobSum += result.logprob;
    if (result.token === EOT) return this.finish('stop', [], '');
    const token = result.token;
    this.hist[this.end++] = token;
    this.generated++;
    this.counts.set(token, (this.counts.get(token) ?? 0) + 1);
    const before = this.completion.text.length;
    const offset = this.completion.push(token);
    const entry = this.record(this.promptText.length + offset, token, result);
    const stopAt = this.findStop(before);
    if (stopAt >= 0) {
      this.cut = stopAt;
      // The token that completed the stop sequence only counts if some of it is before the stop.
      const kept = entry !== null && offset < stopAt ? [entry] : [];
      return this.finish('stop', kept, this.completion.text.slice(this.emitted, stopAt));
    }
    const entries = entry === null ? [] : [entry];
    if (this.generated >= this.settings.maxTokens) return this.finish('length', entries, null);
    const safe = this.completion.text.length - this.heldBack();
    const text = this.completion.text.slice(this.emitted, safe);
    this.emitted = Math.max(this.emitted, safe);
    return { text, logprobs: entry === null ? null : asLogprobs(entries), finishReason: null };
  }

  /** Scores the next echoed prompt token; the whole echo goes out as one event at the end. */
  private echoStep(): ChoiceEvent | undefined {
    const i = this.echoNext++;
    const token = this.hist[i] as number;
    // OpenAI gives the first prompt token no logprob: there is no context to score it in.
    const result = i === 1 ? null : this.sampler.step(this.hist, i, null, this.rng, token);
    this.record(this.prompt.push(token), token, result);
    if (this.echoNext < this.promptEnd) return undefined;
    this.promptText = this.prompt.finish();
    this.promptEntries = this.entries.length;
    return {
      text: this.promptText,
      logprobs: this.wantsLogprobs ? asLogprobs(this.entries) : null,
      finishReason: null,
    };
  }

  private finish(reason: 'stop' | 'length', entries: TokenEntry[], text: string | null): ChoiceEvent {
    this.finishReason = reason;
    if (this.cut < 0) {
      this.completion.finish();
      this.cut = this.completion.text.length;
    }
    const rest = text ?? this.completion.text.slice(this.emitted, this.cut);
    this.emitted = this.cut;
    return { text: rest, logprobs: this.wantsLogprobs ? asLogprobs(entries) : null, finishReason: reason };
  }

  /** Earliest stop sequence occurrence that involves text added since `before`, or -1. */
  private findStop(before: number): number {
    if (this.maxStop === 0) return -1;
    const text = this.completion.text;
    const from = Math.max(0, before - this.maxStop + 1);
    let best = -1;
    for (const stop of this.settings.stop) {
      const at = text.indexOf(stop, from);
      if (at >= 0 && (best < 0 || at < best)) best = at;
    }
    return best;
  }

  /** Length of the text's end that could still become a stop sequence: not safe to stream yet. */
  private heldBack(): number {
    const text = this.completion.text;
    let hold = 0;
    for (const stop of this.settings.stop) {
      for (let len = Math.min(stop.length - 1, text.length - this.emitted); len > hold; len--) {
        if (text.endsWith(stop.slice(0, len))) {
          hold = len;
          break;
        }
      }
    }
    return hold;
  }

  /** The finished choice's text and logprobs, for a non-streamed response. */
  result(): { text: string; logprobs: WireLogprobs | null } {
    const text = this.promptText + this.completion.text.slice(0, this.cut);
    // Tokens that start inside a stop sequence are not part of the returned text.
    const kept = this.entries.filter((e, i) => i < this.promptEntries || e.offset < text.length);
    return { text, logprobs: this.wantsLogprobs ? asLogprobs(kept) : null };
  }
}
