import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { errorCodes } from '../error-codes.js';
import { createCorsPolicy, foreignHostMessage, hostAllowed } from './cors.js';
import { headerText } from './headers.js';
import type { RouteHandler } from './route.js';
import { sendError } from './send-error.js';

/**
 * `GET /metrics` in the Prometheus text format. Open when the service is (no client keys); with
 * client keys it needs `Authorization: Bearer $METRICS_TOKEN`, and without a token configured it
 * does not exist (404): client names and spend are not for every key holder to read.
 */

export interface MetricsRouteDeps {
  registry: Registry;
  /** Anyone may scrape (the open service, or a second port meant for the scraper alone). */
  open: boolean;
  token?: string | undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** A scraper without the token is told which scheme to use. */
const sendJson = (res: ServerResponse, status: number, code: string, message: string) =>
  sendError(
    res,
    status,
    code,
    message,
    status === 401 ? { 'www-authenticate': 'Bearer realm="metrics"' } : {},
  );

export function createMetricsRoute(deps: MetricsRouteDeps): RouteHandler {
  const expected = deps.token === undefined ? undefined : digest(`Bearer ${deps.token}`);
  return (req, res) =>
    req.url === '/metrics' || req.url?.startsWith('/metrics?') === true ? answer(req, res) : false;

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (!deps.open) {
      if (expected === undefined) {
        sendJson(res, 404, errorCodes.notFound, 'Not found.');
        return true;
      }
      // Compared as digests: equal lengths, and no timing hint about the token.
      // The scheme is case-insensitive (RFC 9110), as the client keys' is.
      const given = digest((headerText(req.headers.authorization) ?? '').replace(/^bearer\s+/i, 'Bearer '));
      if (!timingSafeEqual(given, expected)) {
        sendJson(
          res,
          401,
          errorCodes.unauthenticated,
          'Scraping the metrics needs Authorization: Bearer <METRICS_TOKEN>.',
        );
        return true;
      }
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 });
      res.end();
      return true;
    }
    const text = await deps.registry.metrics();
    res.writeHead(200, {
      'content-type': deps.registry.contentType,
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : text);
    return true;
  }
}

/**
 * METRICS_PORT: `/metrics` alone on a second port, for a scraper on an internal network. Open
 * unless METRICS_TOKEN is set; everything else answers 404.
 */
export function createMetricsServer(
  registry: Registry,
  token: string | undefined,
  /** Host names it answers to, as the main port (loopback names when bound to loopback). */
  allowedHosts?: readonly string[],
): Server {
  const route = createMetricsRoute({ registry, open: token === undefined, token });
  // A web page the developer visits could otherwise read an open loopback port by rebinding its DNS.
  const hosts = createCorsPolicy([], allowedHosts);
  return createServer(async (req, res) => {
    if (!hostAllowed(hosts, req)) {
      sendJson(res, 421, errorCodes.misdirectedRequest, foreignHostMessage);
      return;
    }
    if (!(await route(req, res)))
      sendJson(res, 404, errorCodes.notFound, 'Only /metrics is served on this port.');
  });
}
