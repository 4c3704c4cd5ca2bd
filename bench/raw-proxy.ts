/**
 * The baseline for streaming overhead: a bare `node:http` reverse proxy that pipes each request to
 * the upstream and the upstream's response straight back, with a keep-alive pool. Run as its own
 * process with `UPSTREAM_ORIGIN` set, like the service it is compared with.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveParent } from './children.js';
import { profilerCommands } from './profiler.js';

const upstream = new URL(process.env.UPSTREAM_ORIGIN ?? 'http://127.0.0.1:9');
const agent = new Agent({ keepAlive: true, maxSockets: 1024 });

const server = createServer((req, res) => {
  const { host: _host, connection: _connection, ...headers } = req.headers;
  const upstreamRequest = request(
    {
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers,
      agent,
    },
    (upstreamResponse) => {
      res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers);
      upstreamResponse.pipe(res);
    },
  );
  upstreamRequest.on('error', () => res.destroy());
  res.on('close', () => {
    if (!res.writableFinished) upstreamRequest.destroy();
  });
  req.pipe(upstreamRequest);
});

server.keepAliveTimeout = 60_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () =>
  serveParent((server.address() as AddressInfo).port, {
    cpu: () => process.cpuUsage(),
    ...profilerCommands(),
  }),
);
