/**
 * The embedded local engine as a `CompletionsProvider`: an n-gram model of Moby-Dick over the
 * cl100k_base tokenizer, answering `/v1/completions` requests with OpenAI's semantics and shapes,
 * without network or key. Built once and cached under `cacheDir`.
 */
import type { CallOptions, CompletionsProvider, ProviderCompletion } from '../upstream/provider.js';
import type { WireCompletionRequest, WireCompletionResponse, WireModel } from '../upstream/wire.js';
import { type EngineOptions, runCompletion, streamCompletion } from './engine.js';
import { loadOrBuildModel } from './model-store.js';
import type { NgramModel } from './ngram-model.js';
import { warmPromptEncoder } from './prompt-encoder.js';
import { DEFAULT_MAX_CHOICES } from './request.js';

export const LOCAL_MODEL_ID = 'local-ngram-moby-dick';
/** A fixed "release date" for the model object: the model depends only on the corpus. */
const MODEL_CREATED = 1_735_689_600;

export interface LocalProviderOptions {
  cacheDir: string;
  log?: (message: string) => void;
  /** n-gram order (context of order - 1 tokens); default 5. */
  order?: number;
  /** Prompts × max(n, best_of) per request (`LOCAL_MAX_CHOICES`); default 128. */
  maxChoices?: number;
  /** Sees the tokenizer's work between two offers to yield (tests). */
  onTokenizerSlice?: (units: number) => void;
}

export interface LocalProvider extends CompletionsProvider {
  readonly modelId: string;
  /** `fp_local_<hash>`: changes exactly when the model does, so (seed, fingerprint) pins output. */
  readonly systemFingerprint: string;
  /** The model itself, for tests and benchmarks (exact distributions). */
  readonly model: NgramModel;
  /** Whether this instance loaded the disk cache or built the model, and how long it took. */
  readonly loadInfo: { source: 'cache' | 'built'; millis: number };
}

export async function createLocalProvider(options: LocalProviderOptions): Promise<LocalProvider> {
  const order = options.order ?? 5;
  const loaded = await loadOrBuildModel({
    cacheDir: options.cacheDir,
    order,
    ...(options.log ? { log: options.log } : {}),
  });
  const identity = { modelId: LOCAL_MODEL_ID, systemFingerprint: `fp_local_${loaded.key.slice(0, 10)}` };
  const engineOptions: EngineOptions = {
    maxChoices: options.maxChoices ?? DEFAULT_MAX_CHOICES,
    ...(options.onTokenizerSlice ? { onTokenizerSlice: options.onTokenizerSlice } : {}),
  };
  // In the background, in slices: ready to serve no later, and done before most first requests.
  warmPromptEncoder().catch((error: unknown) =>
    options.log?.(`prompt encoder warm-up failed: ${String(error)}`),
  );
  // One small request through every code path compiles the hot loops now, not during the first
  // client's request (cold, a step is many times slower and JIT work lands on the event loop).
  await runCompletion(
    loaded.model,
    identity,
    {
      model: LOCAL_MODEL_ID,
      prompt: ['The whale', 'Call me'],
      max_tokens: 48,
      n: 2,
      logprobs: 5,
      echo: true,
      top_p: 0.9,
      temperature: 0.8,
      frequency_penalty: 0.1,
      stop: ['\n\n'],
      seed: 0,
    },
    engineOptions,
  );
  const modelObject: WireModel = {
    id: LOCAL_MODEL_ID,
    object: 'model',
    created: MODEL_CREATED,
    owned_by: 'local',
  };
  return {
    name: 'local',
    modelId: identity.modelId,
    systemFingerprint: identity.systemFingerprint,
    model: loaded.model,
    loadInfo: { source: loaded.source, millis: loaded.millis },
    async complete(request: WireCompletionRequest, callOptions?: CallOptions): Promise<ProviderCompletion> {
      return {
        response: await runCompletion(loaded.model, identity, request, engineOptions, callOptions?.signal),
      };
    },
    stream(request: WireCompletionRequest, callOptions?: CallOptions): AsyncIterable<WireCompletionResponse> {
      return streamCompletion(loaded.model, identity, request, engineOptions, callOptions?.signal);
    },
    async listModels(): Promise<WireModel[]> {
      return [{ ...modelObject }];
    },
  };
}
