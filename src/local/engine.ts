/**
 * Runs a completion request on the model: creates the candidates, steps them in time slices that
 * yield to the event loop (a step is ~0.1 ms, a slice ~3 ms), and assembles OpenAI-shaped
 * responses and stream chunks. Abort is checked at every slice boundary.
 */
import { randomBytes } from 'node:crypto';
import type {
  WireChoice,
  WireCompletionRequest,
  WireCompletionResponse,
  WireUsage,
} from '../upstream/wire.js';
import { ChoiceGenerator } from './choice.js';
import type { NgramModel } from './ngram-model.js';
import { normalizeRequest } from './request.js';
import { baseSeed, candidateRng } from './rng.js';
import { Sampler } from './sampler.js';
import { Yielder } from './yielder.js';

/** Work per event-loop turn: short enough that GC pauses on top still stay well under 10 ms. */
const SLICE_MS = 3;

export interface EngineIdentity {
  modelId: string;
  systemFingerprint: string;
}

export interface EngineOptions {
  /** Candidates (prompts × max(n, best_of)) one request may ask for. */
  maxChoices: number;
  /** Sees the tokenizer's work between two offers to yield (tests). */
  onTokenizerSlice?: (units: number) => void;
}

function completionId(): string {
  return `cmpl-${randomBytes(18).toString('base64url').replace(/[-_]/g, '').slice(0, 24).padEnd(24, '0')}`;
}

function usageOf(prompts: number[][], candidates: ChoiceGenerator[]): WireUsage {
  const promptTokens = prompts.reduce((sum, p) => sum + p.length, 0);
  const completionTokens = candidates.reduce((sum, c) => sum + c.generated, 0);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

async function setUp(
  model: NgramModel,
  identity: EngineIdentity,
  req: WireCompletionRequest,
  streaming: boolean,
  options: EngineOptions,
  yielder: Yielder,
) {
  const engineRequest = await normalizeRequest(req, identity.modelId, streaming, {
    maxChoices: options.maxChoices,
    pacer: yielder,
    ...(options.onTokenizerSlice ? { onTokenizerSlice: options.onTokenizerSlice } : {}),
  });
  const sampler = new Sampler(model, engineRequest.sampling);
  const seed = baseSeed(engineRequest.seed);
  // Candidates grouped by prompt: best_of of them each.
  const groups = engineRequest.prompts.map((prompt, promptIndex) =>
    Array.from(
      { length: engineRequest.bestOf },
      (_, candidate) =>
        new ChoiceGenerator(
          sampler,
          candidateRng(seed, promptIndex, candidate),
          prompt,
          engineRequest.choice,
        ),
    ),
  );
  return { engineRequest, groups };
}

export async function runCompletion(
  model: NgramModel,
  identity: EngineIdentity,
  req: WireCompletionRequest,
  options: EngineOptions,
  signal?: AbortSignal,
): Promise<WireCompletionResponse> {
  const yielder = new Yielder(SLICE_MS, signal);
  const { engineRequest, groups } = await setUp(model, identity, req, false, options, yielder);
  for (const group of groups) {
    for (const candidate of group) {
      while (!candidate.done) {
        candidate.step();
        if (yielder.due()) await yielder.yieldNow();
      }
    }
  }
  const choices: WireChoice[] = [];
  for (const [promptIndex, group] of groups.entries()) {
    // best_of: rank by mean token logprob (stable, so ties keep generation order), keep n.
    const ranked =
      engineRequest.bestOf > engineRequest.n ? [...group].sort((a, b) => b.score - a.score) : group;
    for (const [i, candidate] of ranked.slice(0, engineRequest.n).entries()) {
      // Building a long choice's logprobs is real work too: it gets the same time slicing.
      if (yielder.due()) await yielder.yieldNow();
      const { text, logprobs } = candidate.result();
      choices.push({
        text,
        index: promptIndex * engineRequest.n + i,
        logprobs,
        finish_reason: candidate.finishReason,
      });
    }
  }
  return {
    id: completionId(),
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: identity.modelId,
    system_fingerprint: identity.systemFingerprint,
    choices,
    // Every best_of candidate was generated, so all are billed, as OpenAI documents for best_of.
    usage: usageOf(engineRequest.prompts, groups.flat()),
  };
}

export async function* streamCompletion(
  model: NgramModel,
  identity: EngineIdentity,
  req: WireCompletionRequest,
  options: EngineOptions,
  signal?: AbortSignal,
): AsyncGenerator<WireCompletionResponse> {
  const yielder = new Yielder(SLICE_MS, signal);
  const { engineRequest, groups } = await setUp(model, identity, req, true, options, yielder);
  const id = completionId();
  const created = Math.floor(Date.now() / 1000);
  const usage = engineRequest.includeUsage ? { usage: null } : {};
  // No best_of when streaming, so candidate i of prompt p is choice p * n + i.
  const active = groups.flatMap((group, promptIndex) =>
    group.map((candidate, i) => ({ candidate, index: promptIndex * engineRequest.n + i })),
  );
  // Round-robin, one step each, as the upstream interleaves the choices of one request.
  while (active.some((a) => !a.candidate.done)) {
    for (const { candidate, index } of active) {
      yielder.throwIfAborted();
      const event = candidate.step();
      if (event !== undefined) {
        yield {
          id,
          object: 'text_completion',
          created,
          choices: [{ text: event.text, index, logprobs: event.logprobs, finish_reason: event.finishReason }],
          model: identity.modelId,
          ...usage,
        };
      }
      if (yielder.due()) await yielder.yieldNow();
    }
  }
  yielder.throwIfAborted();
  if (engineRequest.includeUsage) {
    yield {
      id,
      object: 'text_completion',
      created,
      model: identity.modelId,
      usage: usageOf(engineRequest.prompts, groups.flat()),
      choices: [],
    };
  }
}
