import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorCodes } from '../error-codes.js';

/**
 * Request bodies are read here, under a byte cap, before GraphQL sees them: a declared length
 * over the cap is refused without reading, a chunked body is cut off when it passes the cap.
 * Plain 'data'/'end' events: an async iterator over the request costs a measurable share of a
 * small request's latency.
 */
export function readLimitedBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    return Promise.resolve('too-large');
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.off('data', onData);
        req.resume();
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () =>
      resolve(chunks.length === 1 && chunks[0] ? chunks[0] : Buffer.concat(chunks, size)),
    );
    req.once('error', reject);
  });
}

/**
 * Keeps GraphQL requests under the cap. A declared Content-Length is checked without reading
 * (Node's parser never delivers more than it declares), so the common request streams straight to
 * yoga; only a chunked body is read here first and handed over as `req.body`, which whatwg-node
 * takes instead of the consumed stream.
 */
export async function enforceBodyCap(req: IncomingMessage, maxBytes: number): Promise<'ok' | 'too-large'> {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return 'ok';
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    if (Number(declared) <= maxBytes) return 'ok';
    req.resume();
    return 'too-large';
  }
  const body = await readLimitedBody(req, maxBytes);
  if (body === 'too-large') return body;
  (req as IncomingMessage & { body?: Buffer }).body = body;
  return 'ok';
}

export function sendPayloadTooLarge(res: ServerResponse, maxBytes: number): void {
  const body = JSON.stringify({
    errors: [
      {
        message: `The request body is larger than ${maxBytes} bytes.`,
        extensions: { code: errorCodes.payloadTooLarge },
      },
    ],
  });
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
  res.end(body);
}
