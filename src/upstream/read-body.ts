import type { CallDeadline } from './deadline.js';
import { UpstreamBadResponseError, UpstreamUnavailableError } from './errors.js';

type DestroyableBody = AsyncIterable<Buffer> & {
  destroy(error?: Error): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
};

/**
 * Drops a body we will not read, closing its connection. The listener keeps undici's "Request
 * aborted" error, emitted on destroy, from surfacing as an unhandled error.
 */
export function discardBody(body: DestroyableBody): void {
  body.on('error', () => {});
  body.destroy();
}

/** Reads a response body as UTF-8 text, refusing (and dropping the connection) past `limit` bytes. */
export async function readBodyText(
  body: DestroyableBody,
  limit: number,
  deadline: CallDeadline,
  requestId?: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > limit) {
        discardBody(body);
        throw new UpstreamBadResponseError(`The upstream answer is larger than ${limit} bytes.`, {
          requestId,
        });
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof UpstreamBadResponseError) throw error;
    deadline.throwIfAborted(error);
    const code = (error as { code?: unknown }).code;
    if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
      throw new UpstreamBadResponseError('The upstream answer was truncated.', { requestId, cause: error });
    }
    throw new UpstreamUnavailableError('The upstream connection failed mid-answer.', {
      requestId,
      cause: error,
    });
  }
  return Buffer.concat(chunks, size).toString('utf8');
}
