/**
 * Gets the model: from the disk cache when its key matches, else built from the corpus (and then
 * cached). The key hashes everything the arrays depend on, so stale caches rebuild by themselves.
 */
import { createHash } from 'node:crypto';
import { loadMobyDick } from './corpus.js';
import { CACHE_FORMAT_VERSION, readModelCache, writeModelCache } from './model-cache.js';
import { buildModelArrays } from './ngram-build.js';
import { NgramModel, UNSEEN_MASS } from './ngram-model.js';
import { ENCODING_NAME, EOT, encodeText } from './tokenizer.js';
import { Yielder } from './yielder.js';

/** Bump when the corpus assembly or the counting changes in a way the key would not see. */
const BUILD_RECIPE = 2;

export interface LoadedModel {
  model: NgramModel;
  /** Hash of corpus + parameters: identifies the model for the fingerprint. */
  key: string;
  source: 'cache' | 'built';
  millis: number;
}

export interface ModelStoreOptions {
  cacheDir: string;
  order: number;
  log?: (message: string) => void;
}

export async function loadOrBuildModel(options: ModelStoreOptions): Promise<LoadedModel> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const corpus = await loadMobyDick();
  const key = createHash('sha256')
    .update(
      JSON.stringify({
        format: CACHE_FORMAT_VERSION,
        recipe: BUILD_RECIPE,
        encoding: ENCODING_NAME,
        order: options.order,
        unseenMass: UNSEEN_MASS,
        corpus: corpus.sha256,
      }),
    )
    .digest('hex');
  const cached = await readModelCache(options.cacheDir, key);
  if (cached !== undefined) {
    const millis = performance.now() - started;
    log(`local model: loaded ${options.order}-gram cache in ${millis.toFixed(0)} ms`);
    return { model: new NgramModel(cached), key, source: 'cache', millis };
  }
  log(`local model: building ${options.order}-gram model from Moby-Dick (cache miss in ${options.cacheDir})`);
  const yielder = new Yielder(8);
  // Documents are separated (and the stream opened) by <|endoftext|>, so an empty prompt, whose
  // context is that token, starts like a chapter, and the model learns when a chapter ends.
  const stream: number[] = [EOT];
  for (const doc of corpus.documents) {
    for (const token of encodeText(doc.text)) stream.push(token);
    stream.push(EOT);
    await yielder.maybe();
  }
  const arrays = await buildModelArrays(Uint32Array.from(stream), options.order, yielder);
  const file = await writeModelCache(options.cacheDir, key, arrays);
  const millis = performance.now() - started;
  log(`local model: built from ${stream.length} tokens in ${millis.toFixed(0)} ms, cached at ${file}`);
  return { model: new NgramModel(arrays), key, source: 'built', millis };
}
