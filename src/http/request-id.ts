import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

/**
 * Every request has an id: the caller's `x-request-id` when it is a sane one (a gateway's or a load
 * balancer's, so one complaint can be followed across services), else a new one. It is answered in
 * the `x-request-id` header and `extensions.requestId`, written on the request's log lines and sent
 * to the upstream. Kept in an AsyncLocalStorage so that nothing has to pass it by hand.
 */

export const requestIdHeader = 'x-request-id';

/** Bounded, and only characters that cannot break a header or a log line. */
const acceptable = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestIdFrom(header: string | undefined): string {
  return header !== undefined && acceptable.test(header) ? header : randomUUID();
}

const scope = new AsyncLocalStorage<string>();

export function withRequestId<T>(requestId: string, run: () => T): T {
  return scope.run(requestId, run);
}

/** The id of the request being served, where there is one. */
export function currentRequestId(): string | undefined {
  return scope.getStore();
}
