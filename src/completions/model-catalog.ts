import type { RoutingView } from '../routing/router.js';
import { extended } from '../runtime/objects.js';
import type { CircuitState } from '../upstream/circuit-breaker.js';
import type { CompletionsProvider } from '../upstream/provider.js';
import { toModel } from './mapping.js';
import type { Model } from './model.js';

/**
 * The models clients may ask for. With UPSTREAMS_FILE: the routes' public names, known without
 * asking anyone, with the deployments serving each and their live state. With one upstream: its
 * model list, cached briefly (`Query.model` and federated `Model` references would otherwise each
 * cost an upstream round trip for a list that changes a few times a year).
 */

export interface ModelDeploymentStatus {
  name: string;
  kind: 'openai' | 'local';
  /** The deployment's own name for the model. */
  model: string;
  /** Position of its group in the route: 0 is tried first. */
  group: number;
  state: CircuitState;
  /** Calls in flight; null when not counted (one upstream without UPSTREAMS_FILE). */
  outstanding: number | null;
  remainingRequests: number | null;
  remainingTokens: number | null;
  rateLimitedUntil: Date | null;
}

export interface ModelCatalog {
  /** The models `client` may use (a key's `models=`), or all of them. */
  list(client?: string): Promise<Model[]>;
  get(id: string, client?: string): Promise<Model | null>;
  /** Who serves the model now, in the order they are tried. */
  deployments(id: string): ModelDeploymentStatus[];
}

export function createModelCatalog(deps: {
  provider: CompletionsProvider;
  /** The router's view, when several deployments serve. */
  routing?: RoutingView;
  /** The one upstream's breaker, without a router. */
  breakerState?: () => CircuitState;
  /** The public models a client key is limited to; undefined: all. */
  allowedModels?: (client: string) => ReadonlySet<string> | undefined;
  ttlMs?: number;
  now?: () => number;
}): ModelCatalog {
  const ttlMs = deps.ttlMs ?? 60_000;
  const now = deps.now ?? Date.now;
  const routing = deps.routing;
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

  const allowed = (client: string | undefined, id: string) => {
    const models = client === undefined ? undefined : deps.allowedModels?.(client);
    return models === undefined || models.has(id);
  };

  return {
    async list(client) {
      const models = await list();
      return client === undefined ? models : models.filter((model) => allowed(client, model.id));
    },
    async get(id, client) {
      if (!allowed(client, id)) return null;
      if (routing !== undefined) {
        return routing.model(id) === undefined ? null : { id, object: 'model', created: null, ownedBy: null };
      }
      return (await list()).find((model) => model.id === id) ?? null;
    },
    deployments(id) {
      if (routing !== undefined) {
        return (routing.model(id)?.deployments ?? []).map((status) =>
          extended(status, {
            rateLimitedUntil: status.rateLimitedUntil === null ? null : new Date(status.rateLimitedUntil),
          }),
        );
      }
      const name = deps.provider.name;
      return [
        {
          name,
          kind: name === 'local' ? 'local' : 'openai',
          model: id,
          group: 0,
          state: deps.breakerState?.() ?? 'closed',
          outstanding: null,
          remainingRequests: null,
          remainingTokens: null,
          rateLimitedUntil: null,
        },
      ];
    },
  };
}
