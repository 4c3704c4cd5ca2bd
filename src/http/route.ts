import type { IncomingMessage, ServerResponse } from 'node:http';

/** A handler that answers some routes itself and returns false for the rest. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
