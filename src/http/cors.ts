import type { IncomingMessage } from 'node:http';
import type { CORSOptions } from 'graphql-yoga';
import { headerText } from './headers.js';

/**
 * Which browser pages may use this server. With no client keys any page a developer visits could
 * otherwise spend the server's upstream key through the developer's browser, so the default is
 * this server's own pages only; `CORS_ORIGINS` names the others. One decision for yoga, the SSE
 * route and WebSocket upgrades, so no transport is a side door.
 */
export interface CorsPolicy {
  /** Exact origins (`https://app.example:8443`), normalised as browsers send them. */
  readonly origins: ReadonlySet<string>;
  /** `*` was listed: every origin, but never with credentials. */
  readonly anyOrigin: boolean;
  /**
   * Host names the server answers to, when it knows them (bound to loopback): a page on another
   * name whose DNS was pointed at 127.0.0.1 (DNS rebinding) is "same-origin" with itself, so only
   * the Host header can tell it from the developer's own pages. Undefined: any host.
   */
  readonly hosts?: ReadonlySet<string>;
}

/** The names a server bound to loopback is reached by. */
export const loopbackHosts: readonly string[] = ['localhost', '127.0.0.1', '[::1]'];

/** Whether a listen address is loopback only (the default `127.0.0.1`). */
export function isLoopback(address: string): boolean {
  return (
    address === 'localhost' || address === '::1' || address === '[::1]' || /^127(\.\d{1,3}){3}$/.test(address)
  );
}

/** What a request to a Host this server does not answer to is told (DNS rebinding, or a wrong name). */
export const foreignHostMessage = 'This server does not answer to that Host name.';

/** Whether the request's Host header names this server (always, when the policy knows no names). */
export function hostAllowed(policy: CorsPolicy, req: IncomingMessage): boolean {
  if (policy.hosts === undefined) return true;
  const host = headerText(req.headers.host);
  if (host === undefined) return false;
  try {
    const { hostname } = new URL(`http://${host}`);
    return (
      policy.hosts.has(hostname) || hostname.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(hostname)
    );
  } catch {
    return false;
  }
}

export class CorsOriginError extends Error {}

/** An origin as a browser sends it (`scheme://host[:port]`, lower case, no default port), or an error. */
export function normaliseOrigin(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new CorsOriginError(`"${text}" is not an origin (scheme://host[:port])`);
  }
  const bare = url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '';
  if (url.origin === 'null' || !bare) {
    throw new CorsOriginError(`"${text}" is not an origin (scheme://host[:port], no path)`);
  }
  return url.origin;
}

export function createCorsPolicy(origins: readonly string[] = [], hosts?: readonly string[]): CorsPolicy {
  const anyOrigin = origins.includes('*');
  return {
    anyOrigin,
    origins: new Set(origins.filter((origin) => origin !== '*').map(normaliseOrigin)),
    ...(hosts === undefined ? {} : { hosts: new Set(hosts.map((host) => host.toLowerCase())) }),
  };
}

/** Same-origin only: what a server with no `CORS_ORIGINS` answers. */
export const sameOriginOnly: CorsPolicy = createCorsPolicy();

/** How far an origin is trusted: with credentials (listed), without (`*`), or not at all. */
function grant(policy: CorsPolicy, origin: string | null | undefined): 'credentials' | 'anonymous' | null {
  if (origin == null) return null;
  if (policy.origins.has(origin.toLowerCase())) return 'credentials';
  return policy.anyOrigin ? 'anonymous' : null;
}

/**
 * yoga's `cors` option. yoga reflects the request's origin (with `Vary: Origin`) once this has
 * decided it may; `false` sends no CORS headers at all, so a browser refuses the preflight and
 * keeps any answer from the page. Same-origin pages (GraphiQL) need no CORS headers.
 */
export function yogaCorsOptions(policy: CorsPolicy, origin: string | null): CORSOptions {
  const granted = grant(policy, origin);
  return granted === null ? false : { origin: '*', credentials: granted === 'credentials' };
}

/** The headers yoga sends for `yogaCorsOptions` on a non-preflight answer, for routes that answer themselves. */
export function corsResponseHeaders(policy: CorsPolicy, req: IncomingMessage): Record<string, string> {
  const origin = headerText(req.headers.origin);
  const granted = grant(policy, origin);
  if (origin === undefined || granted === null) return {};
  return {
    'access-control-allow-origin': origin,
    vary: 'Origin',
    ...(granted === 'credentials' ? { 'access-control-allow-credentials': 'true' } : {}),
  };
}

/** The page's origin is this server: same host and port as the Host header it sent. */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined || host === '') return false;
  try {
    const page = new URL(origin);
    // Parsed with the page's scheme, so a default port (`:80`, `:443`) compares as absent.
    return page.host === new URL(`${page.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * A WebSocket handshake is never preflighted and browsers send `Origin` on every one, so the check
 * is made here, before any frame is read. No `Origin`: not a browser; client keys still apply.
 */
export function mayUpgrade(policy: CorsPolicy, req: IncomingMessage): boolean {
  if (!hostAllowed(policy, req)) return false;
  const origin = headerText(req.headers.origin);
  if (origin === undefined) return true;
  return isSameOrigin(origin, req.headers.host) || grant(policy, origin) !== null;
}
