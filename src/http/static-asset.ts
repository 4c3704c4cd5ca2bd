import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import { extended } from '../runtime/objects.js';
import { headerText } from './headers.js';

const gzip = promisify(gzipCallback);

/**
 * A file the service serves from memory (GraphiQL's bundle, the playground). Hashed names let a
 * browser keep them for good; the page that names them is revalidated instead, so a new version
 * is picked up on the next load. Compressed once, in the thread pool, not per request.
 */
export interface StaticAsset {
  readonly contentType: string;
  readonly body: Buffer;
  /** Absent when compression would not pay (small or already compressed). */
  readonly gzipped?: Buffer;
  readonly etag: string;
  /** The first hex digits of the content hash, for a file name that changes with the content. */
  readonly hash: string;
  /** Named by its hash: cache it for a year without asking again. */
  readonly immutable: boolean;
}

const minGzipBytes = 1024;

export async function createAsset(
  contentType: string,
  content: string | Buffer,
  options: { immutable?: boolean } = {},
): Promise<StaticAsset> {
  const body = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  const digest = createHash('sha256').update(body).digest('hex');
  const compressible = body.length >= minGzipBytes && !contentType.startsWith('image/x-icon');
  return {
    contentType,
    body,
    ...(compressible ? { gzipped: await gzip(body) } : {}),
    etag: `"${digest.slice(0, 32)}"`,
    hash: digest.slice(0, 12),
    immutable: options.immutable ?? false,
  };
}

function acceptsGzip(req: IncomingMessage): boolean {
  return /\bgzip\b/i.test(headerText(req.headers['accept-encoding']) ?? '');
}

/** GET and HEAD, conditional requests, gzip when asked; `headers` adds e.g. a page's CSP. */
export function sendAsset(
  req: IncomingMessage,
  res: ServerResponse,
  asset: StaticAsset,
  headers: Record<string, string> = {},
): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 });
    res.end();
    return;
  }
  const common = {
    etag: asset.etag,
    'cache-control': asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    'x-content-type-options': 'nosniff',
    ...(asset.gzipped ? { vary: 'accept-encoding' } : {}),
    ...headers,
  };
  if (headerText(req.headers['if-none-match']) === asset.etag) {
    res.writeHead(304, common);
    res.end();
    return;
  }
  const zipped = asset.gzipped !== undefined && acceptsGzip(req) ? asset.gzipped : undefined;
  const body = zipped ?? asset.body;
  res.writeHead(
    200,
    extended(common, {
      'content-type': asset.contentType,
      'content-length': body.length,
      ...(zipped ? { 'content-encoding': 'gzip' } : {}),
    }),
  );
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * A page's Content-Security-Policy: nothing is allowed (`default-src 'none'`, no base, forms or
 * framing) but the sources the page names, so both pages start from the same closed policy.
 */
export function closedContentSecurityPolicy(allowed: readonly string[]): string {
  return [
    "default-src 'none'",
    ...allowed,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A failure to build an asset (a missing file, a syntax error in the playground's source). */
export function sendAssetUnavailable(res: ServerResponse): void {
  const body =
    '{"errors":[{"message":"This page\'s assets could not be built; the log says why.","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}';
  res.writeHead(500, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
}
