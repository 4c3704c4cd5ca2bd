import type { CompletionsProvider } from '../upstream/provider.js';
import { toModel } from './mapping.js';
import type { Model } from './model.js';

/**
 * The upstream's model list, cached briefly: `Query.model` and federated `Model` references would
 * otherwise each cost an upstream round trip for a list that changes a few times a year.
 */

export interface ModelCatalog {
  list(): Promise<Model[]>;
  get(id: string): Promise<Model | null>;
}

export function createModelCatalog(deps: {
  provider: CompletionsProvider;
  ttlMs?: number;
  now?: () => number;
}): ModelCatalog {
  const ttlMs = deps.ttlMs ?? 60_000;
  const now = deps.now ?? Date.now;
  let cached: { at: number; models: Promise<Model[]> } | undefined;

  async function list(): Promise<Model[]> {
    if (cached === undefined || now() - cached.at > ttlMs) {
      const entry = {
        at: now(),
        // No caller's signal here: the fetch is shared, so one client leaving must not fail the others.
        models: deps.provider.listModels().then((models) => models.map(toModel)),
      };
      cached = entry;
      // A failed fetch must not be served from the cache until it expires.
      entry.models.catch(() => {
        if (cached === entry) cached = undefined;
      });
    }
    return cached.models;
  }

  return {
    list,
    async get(id) {
      return (await list()).find((model) => model.id === id) ?? null;
    },
  };
}
