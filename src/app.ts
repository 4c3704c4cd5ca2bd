import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { readLimitedBody, sendPayloadTooLarge } from './body-limit.js';
import { createModelCatalog } from './completions/model-catalog.js';
import { createCompletionsService } from './completions/service.js';
import { findViolation } from './completions/validation.js';
import { configDefaults, type OperationLimits } from './config.js';
import { createOpenAiCompatHandler } from './rest/openai-compat.js';
import { attachWebSocket } from './transports/websocket.js';
import type { CompletionsProvider } from './upstream/provider.js';
import { type CompletionsYoga, createYogaApp } from './yoga.js';

/** A handler that answers some routes itself and returns false for the rest. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface AppDeps {
  provider: CompletionsProvider;
  logger: Logger;
  production: boolean;
  exampleModel?: string;
  limits?: OperationLimits;
  /** Extra routes served before GraphQL on the same port. */
  routes?: RouteHandler[];
}

export interface App {
  server: Server;
  yoga: CompletionsYoga;
  /** Stops accepting connections, lets in-flight requests finish for `graceMs`, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

export function createApp(deps: AppDeps): App {
  const limits = deps.limits ?? configDefaults.limits;
  const completions = createCompletionsService({ provider: deps.provider });
  const models = createModelCatalog({ provider: deps.provider });
  const yoga = createYogaApp({
    completions,
    models,
    logger: deps.logger,
    production: deps.production,
    limits,
    ...(deps.exampleModel === undefined ? {} : { exampleModel: deps.exampleModel }),
  });
  // The OpenAI-compatible REST face, answered by the same provider and the same request rules.
  const rest = createOpenAiCompatHandler({
    provider: deps.provider,
    maxBodyBytes: limits.maxRequestBytes,
    validate: (request) => {
      const violation = findViolation(request);
      return violation && { param: violation.param, message: `${violation.param} ${violation.problem}` };
    },
  });
  const routes = [...(deps.routes ?? []), rest];

  const server = createServer(async (req, res) => {
    try {
      for (const route of routes) if (await route(req, res)) return;
      if (req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'OPTIONS') {
        const body = await readLimitedBody(req, limits.maxRequestBytes);
        if (body === 'too-large') return sendPayloadTooLarge(res, limits.maxRequestBytes);
        // whatwg-node takes an already-read body from `req.body` instead of the consumed stream.
        (req as typeof req & { body?: Buffer }).body = body;
      }
      await yoga(req, res);
    } catch (error) {
      deps.logger.error({ err: error }, 'request failed outside GraphQL');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"errors":[{"message":"Unexpected error.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}');
    }
  });

  const webSocket = attachWebSocket(server, yoga);

  return {
    server,
    yoga,
    close: (graceMs = 10_000) =>
      new Promise<void>((resolve) => {
        void webSocket.close();
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        force.unref();
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}
