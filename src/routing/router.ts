import { extended } from '../runtime/objects.js';
import type { CircuitBreakerOptions } from '../upstream/circuit-breaker.js';
import { UpstreamRequestError } from '../upstream/errors.js';
import type { CallOptions, CompletionsProvider, ProviderCompletion } from '../upstream/provider.js';
import type {
  WireCompletionRequest,
  WireCompletionResponse,
  WireModel,
  WireUsage,
} from '../upstream/wire.js';
import { orderGroup } from './balance.js';
import { type RouterClock, systemClock } from './clock.js';
import type { DeploymentSpec, RouteSpec } from './config-file.js';
import { Deployment, type DeploymentStatus, type Ticket } from './deployment.js';
import { roughTokenEstimate } from './estimate.js';
import { shouldFallBack } from './fallback.js';
import { OperationDeadline } from './operation-deadline.js';
import { Outcome } from './outcome.js';

/**
 * Many deployments behind the one `CompletionsProvider` contract. A public model name picks a
 * route: ordered groups of deployments, shared within a group (weighted random or least
 * outstanding), tried group after group when an attempt fails in a way that says "try elsewhere".
 * Deployments that are open, over budget or asked to be left alone are skipped, never waited on;
 * all attempts together stay within the operation's deadline. Answers carry the public name the
 * client asked for; which deployment served is told to `onServed`.
 */

/** The contract's options; a router reads `estimatedTokens` and tells `onServed`. */
export type RoutedCallOptions = CallOptions;

export interface RouterOptions {
  deployments: readonly { spec: DeploymentSpec; provider: CompletionsProvider }[];
  routes: readonly RouteSpec[];
  /**
   * A non-streamed call, every attempt and fallback included. An HTTP deployment's own timeout must
   * not be longer (its first attempt relies on it: see OperationDeadline).
   */
  completeDeadlineMs: number;
  /** A streamed call from request to its last chunk, fallbacks before its first chunk included. */
  streamDeadlineMs: number;
  breaker?: Partial<CircuitBreakerOptions>;
  random?: () => number;
  clock?: RouterClock;
  /** Told when an attempt failed and the call moves on (for logs). */
  onFallback?: (event: { model: string; deployment: string; error: unknown }) => void;
  /** Closes what the deployments' providers hold (connection pools). */
  close?: () => Promise<void>;
}

export interface PublicModelStatus {
  id: string;
  deployments: DeploymentStatus[];
}

export interface RoutingView {
  models(): PublicModelStatus[];
  model(id: string): PublicModelStatus | undefined;
  deployment(name: string): Deployment | undefined;
  deployments(): Deployment[];
  /** Why the service cannot serve at all (every deployment's breaker open), else undefined. */
  readiness(): string | undefined;
}

export interface Router extends CompletionsProvider {
  readonly routing: RoutingView;
  close(): Promise<void>;
}

export function isRouter(provider: CompletionsProvider): provider is Router {
  return 'routing' in provider && typeof (provider as Partial<Router>).routing === 'object';
}

interface Route {
  model: string;
  balance: RouteSpec['balance'];
  groups: Deployment[][];
}

function withModel(response: WireCompletionResponse, model: string): WireCompletionResponse {
  return response.model === model ? response : extended(response, { model });
}

export function createRouter(options: RouterOptions): Router {
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const deployments = new Map<string, Deployment>();
  for (const { spec, provider } of options.deployments) {
    deployments.set(spec.name, new Deployment(spec, provider, clock, options.breaker));
  }
  const routes = new Map<string, Route>();
  for (const spec of options.routes) {
    const groups = spec.groups.map((group) => group.map((name) => deployments.get(name) as Deployment));
    routes.set(spec.model, { model: spec.model, balance: spec.balance, groups });
  }

  function routeFor(model: string): Route {
    const route = routes.get(model);
    if (route !== undefined) return route;
    throw new UpstreamRequestError(`The model \`${model}\` does not exist or you do not have access to it.`, {
      status: 404,
      param: 'model',
      upstreamCode: 'model_not_found',
    });
  }

  /** Every deployment of the route in the order this call tries them. */
  const candidates = (route: Route): Deployment[] =>
    route.groups.length === 1
      ? orderGroup(route.groups[0] as Deployment[], route.balance, random)
      : route.groups.flatMap((group) => orderGroup(group, route.balance, random));

  /** An attempt's options: the caller's own when its signal will do (see OperationDeadline). */
  const attemptOptions = (
    callOptions: RoutedCallOptions,
    op: OperationDeadline,
    deployment: Deployment,
    first: boolean,
  ): RoutedCallOptions => {
    const signal = op.signalFor(first && deployment.kind === 'openai');
    return signal === callOptions.signal ? callOptions : extended(callOptions, { signal });
  };

  /** The request as this deployment knows the model. */
  const wireFor = (request: WireCompletionRequest, deployment: Deployment): WireCompletionRequest => {
    const model = deployment.models.get(request.model) ?? request.model;
    return model === request.model ? request : extended(request, { model });
  };

  const served = (callOptions: RoutedCallOptions, deployment: Deployment, model: string) =>
    callOptions.onServed?.({ deployment: deployment.name, model: deployment.models.get(model) ?? model });

  /** After a failed attempt: moves on, or throws what the caller should see. */
  function afterFailure(
    route: Route,
    deployment: Deployment,
    ticket: Ticket,
    op: OperationDeadline,
    error: unknown,
  ) {
    const failure = op.translate(error);
    ticket.fail(failure);
    if (!shouldFallBack(failure) || op.timedOut) throw failure;
    options.onFallback?.({ model: route.model, deployment: deployment.name, error: failure });
    return failure;
  }

  async function complete(
    request: WireCompletionRequest,
    callOptions: RoutedCallOptions = {},
  ): Promise<ProviderCompletion> {
    const route = routeFor(request.model);
    const op = new OperationDeadline(options.completeDeadlineMs, callOptions.signal, clock);
    const estimate = callOptions.estimatedTokens ?? roughTokenEstimate(request);
    const outcome = new Outcome();
    let attempts = 0;
    try {
      for (const deployment of candidates(route)) {
        if (!op.open) break;
        const ticket = deployment.admit(estimate);
        if (typeof ticket === 'string') {
          outcome.skip(deployment, ticket);
          continue;
        }
        try {
          const result = await deployment.provider.complete(
            wireFor(request, deployment),
            attemptOptions(callOptions, op, deployment, attempts++ === 0),
          );
          ticket.succeed(result.response.usage);
          served(callOptions, deployment, request.model);
          return extended(result, { response: withModel(result.response, request.model) });
        } catch (error) {
          outcome.lastError = afterFailure(route, deployment, ticket, op, error);
        }
      }
      throw outcome.error(route.model, op, estimate, callOptions.signal);
    } finally {
      op.dispose();
    }
  }

  async function* stream(
    request: WireCompletionRequest,
    callOptions: RoutedCallOptions = {},
  ): AsyncGenerator<WireCompletionResponse> {
    const route = routeFor(request.model);
    const op = new OperationDeadline(options.streamDeadlineMs, callOptions.signal, clock);
    const estimate = callOptions.estimatedTokens ?? roughTokenEstimate(request);
    const outcome = new Outcome();
    let chunks: AsyncIterator<WireCompletionResponse> | undefined;
    let ticket: Ticket | undefined;
    let attempts = 0;
    try {
      for (const deployment of candidates(route)) {
        if (!op.open) break;
        const admitted = deployment.admit(estimate);
        if (typeof admitted === 'string') {
          outcome.skip(deployment, admitted);
          continue;
        }
        ticket = admitted;
        const attempt = deployment.provider.stream(
          wireFor(request, deployment),
          attemptOptions(callOptions, op, deployment, attempts++ === 0),
        );
        chunks = attempt[Symbol.asyncIterator]();
        let next: IteratorResult<WireCompletionResponse>;
        try {
          next = await chunks.next();
        } catch (error) {
          // Nothing reached the caller yet: the next deployment can take the call unseen.
          chunks = undefined;
          outcome.lastError = afterFailure(route, deployment, ticket, op, error);
          continue;
        }
        // From the first chunk on the text is this deployment's: a later failure ends the stream
        // with its coded error rather than splicing another model's text onto it.
        ticket.answered();
        served(callOptions, deployment, request.model);
        let usage: WireUsage | null | undefined;
        try {
          while (!next.done) {
            usage = next.value.usage ?? usage;
            yield withModel(next.value, request.model);
            next = await chunks.next();
          }
        } catch (error) {
          chunks = undefined;
          const failure = op.translate(error);
          ticket.fail(failure);
          throw failure;
        }
        chunks = undefined;
        ticket.succeed(usage);
        return;
      }
      throw outcome.error(route.model, op, estimate, callOptions.signal);
    } finally {
      // The caller left early: the deployment was fine as far as we know, and its stream is closed.
      ticket?.abandon();
      await chunks?.return?.();
      op.dispose();
    }
  }

  const routing: RoutingView = {
    models: () => [...routes.keys()].map((id) => routing.model(id) as PublicModelStatus),
    model(id) {
      const route = routes.get(id);
      if (route === undefined) return undefined;
      const statuses = route.groups.flatMap((group, index) => group.map((d) => d.status(id, index)));
      return { id, deployments: statuses };
    },
    deployment: (name) => deployments.get(name),
    deployments: () => [...deployments.values()],
    readiness() {
      const all = [...deployments.values()];
      return all.every((d) => d.breaker.state === 'open')
        ? `every deployment's circuit breaker is open (${all.map((d) => d.name).join(', ')})`
        : undefined;
    },
  };

  return {
    name: 'router',
    routing,
    complete,
    stream,
    async listModels(): Promise<WireModel[]> {
      return [...routes.keys()].map((id) => ({ id, object: 'model', created: 0, owned_by: '' }));
    },
    close: async () => {
      await options.close?.();
    },
  };
}
