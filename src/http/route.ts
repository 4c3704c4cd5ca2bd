import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A handler that answers some routes itself and returns false for the rest: synchronously when the
 * request is not its own (every request asks each route in turn; an async "no" costs a promise
 * and a turn of the microtask queue per route), or a promise of whether it answered.
 */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;
