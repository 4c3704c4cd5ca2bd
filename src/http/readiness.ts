import type { ServerResponse } from 'node:http';
import type { RouteHandler } from './route.js';

/**
 * `/readyz`: whether a load balancer should send traffic here. `/healthz` (yoga's) stays liveness.
 * Each check answers `ok` or why not; any failing one, or a drain in progress, answers 503 so
 * traffic moves to the other instances before this one stops.
 */

export type ReadinessCheck = () => Promise<string | undefined>;

export interface ReadinessDeps {
  /** Named checks: resolve undefined when fine, a reason when not (a rejection is a reason too). */
  checks: Record<string, ReadinessCheck>;
  draining: () => boolean;
  /** A check that does not answer within this is failing (a hung database). */
  timeoutMs?: number;
}

async function run(check: ReadinessCheck, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs} ms`), timeoutMs);
    timer.unref();
  });
  try {
    const reason = await Promise.race([
      check().then(
        (problem) => problem ?? 'ok',
        // A store's own error names hosts, ports and addresses: anyone may ask, so it is one word.
        () => 'unavailable',
      ),
      late,
    ]);
    return reason;
  } finally {
    clearTimeout(timer);
  }
}

function send(res: ServerResponse, status: number, body: unknown, head: boolean): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : text);
}

export function createReadinessRoute(deps: ReadinessDeps): RouteHandler {
  const timeoutMs = deps.timeoutMs ?? 2_000;
  // Probes that arrive together share one round of checks: a flood of them is not a flood of
  // database queries and Redis pings.
  let inFlight: Promise<{ ready: boolean; checks: Record<string, string> }> | undefined;
  const checkAll = async () => {
    const names = Object.keys(deps.checks);
    const results = await Promise.all(
      names.map((name) => run(deps.checks[name] as ReadinessCheck, timeoutMs)),
    );
    return {
      ready: results.every((result) => result === 'ok'),
      checks: Object.fromEntries(names.map((name, i) => [name, results[i] as string])),
    };
  };
  return (req, res) => {
    if (req.url !== '/readyz' && req.url?.startsWith('/readyz?') !== true) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 }).end();
      return true;
    }
    return answer(res, req.method === 'HEAD');
  };

  async function answer(res: ServerResponse, head: boolean): Promise<boolean> {
    if (deps.draining()) {
      send(res, 503, { status: 'draining', checks: {} }, head);
      return true;
    }
    inFlight ??= checkAll().finally(() => {
      inFlight = undefined;
    });
    const { ready, checks } = await inFlight;
    send(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks }, head);
    return true;
  }
}
