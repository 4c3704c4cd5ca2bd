/**
 * The baseline for the REST face: "a raw undici proxy (JSON parse + map)". A bare
 * `node:http` server that reads the request, parses it, maps its fields to the upstream's request,
 * calls the upstream with undici (a keep-alive pool), parses the answer, maps it back and writes
 * it: what the least a JSON gateway can do, without checks, limits, pricing or logs. Run as its own
 * process with `UPSTREAM_ORIGIN` set, like the service it is compared with.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { serveParent } from './children.js';
import { profilerCommands } from './profiler.js';

const upstream = process.env.UPSTREAM_ORIGIN ?? 'http://127.0.0.1:9';
const agent = new Agent({ connections: 128, keepAliveTimeout: 60_000 });

const requestFields = ['model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'n', 'stop', 'seed', 'user'];
const answerFields = ['id', 'object', 'created', 'model', 'choices', 'usage', 'system_fingerprint'];

function pick(source: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const field of fields) if (source[field] !== undefined) picked[field] = source[field];
  return picked;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = createServer(async (req, res) => {
  try {
    const wire = pick(JSON.parse(await readBody(req)) as Record<string, unknown>, requestFields);
    const answer = await request(`${upstream}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(wire),
      dispatcher: agent,
    });
    const parsed = JSON.parse(await answer.body.text()) as Record<string, unknown>;
    send(res, answer.statusCode, JSON.stringify(pick(parsed, answerFields)));
  } catch {
    send(res, 502, '{"error":{"message":"upstream failed"}}');
  }
});

server.keepAliveTimeout = 60_000;
server.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, () =>
  serveParent((server.address() as AddressInfo).port, {
    cpu: () => process.cpuUsage(),
    ...profilerCommands(),
  }),
);
