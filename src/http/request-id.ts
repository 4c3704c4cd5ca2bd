import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { keyShapedSource } from '../key-shapes.js';
import { headerText } from './headers.js';

/**
 * Every request has an id: the caller's `x-request-id` when it is a sane one (a gateway's or a load
 * balancer's, so one complaint can be followed across services), else a new one. It is answered in
 * the `x-request-id` header and `extensions.requestId`, and sent to the upstream. Kept beside the
 * Node request rather than in an AsyncLocalStorage: on Node 20 that turns on promise hooks for the
 * whole process, which cost ~30 % more CPU per request in `npm run bench`.
 */

export const requestIdHeader = 'x-request-id';

/** Bounded, and only characters that cannot break a header or a log line. */
const acceptable = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Shaped like a credential (what the scrubber takes out of every log line): a caller pasting a key
 * as its id would see it echoed, sent upstream, and logged as `[redacted]`.
 */
const keyShaped = new RegExp(keyShapedSource);

/** Whether an id (a caller's, an upstream's) may be passed on in headers, bodies and log lines. */
export function isSaneRequestId(id: string): boolean {
  return acceptable.test(id) && !keyShaped.test(id);
}

/**
 * On the Node request itself, under a symbol no one else reads: a WeakMap keyed by every request
 * put the service, one run in two, in a state where young-generation collections promoted each
 * request's objects (~1 MB per collection at the bench's load, three times their pause).
 */
const idKey = Symbol('requestId');
type WithId = IncomingMessage & { [idKey]?: string };

/**
 * The id of one operation on a WebSocket: the connection's id and the client's operation id, when
 * the whole is still a sane id; else the connection's id and a number of this connection's. The
 * client picks operation ids, and this id goes into the upstream's headers and the log lines.
 */
export function operationRequestId(
  connection: IncomingMessage,
  operationId: string,
  ordinal: number,
): string {
  const base = requestIdOf(connection);
  const id = `${base}/${operationId}`;
  return isSaneRequestId(id) ? id : `${base}/@${ordinal}`;
}

/** The request's id, made (or taken from the caller) on first ask and the same afterwards. */
export function requestIdOf(req: IncomingMessage): string {
  let id = (req as WithId)[idKey];
  if (id === undefined) {
    const header = headerText(req.headers[requestIdHeader]);
    id = header !== undefined && isSaneRequestId(header) ? header : randomUUID();
    (req as WithId)[idKey] = id;
  }
  return id;
}
