import type { Readable } from 'node:stream';
import type { CallDeadline } from './deadline.js';
import { UpstreamBadResponseError, UpstreamUnavailableError } from './errors.js';

type DestroyableBody = Pick<Readable, 'destroy' | 'on'> & AsyncIterable<Buffer>;
/** What a finished stream's body must offer to be read to its end in the background. */
export type ReleasableBody = DestroyableBody &
  Pick<Readable, 'iterator' | 'resume' | 'readableEnded' | 'setEncoding'>;

/** After `[DONE]` a well-behaved server ends the body at once; these bound one that does not. */
const RELEASE_MAX_BYTES = 16 * 1024;
const RELEASE_MAX_WAIT_MS = 1_000;

/**
 * Drops a body we will not read, closing its connection. The listener keeps undici's "Request
 * aborted" error, emitted on destroy, from surfacing as an unhandled error.
 */
export function discardBody(body: DestroyableBody): void {
  body.on('error', () => {});
  body.destroy();
}

/**
 * Lets the tail of a body we are done with (after `[DONE]`: normally just the end of the chunked
 * response) arrive, so undici hands the keep-alive connection to the next call instead of closing
 * it: a new TCP connection costs the next stream its first-event latency. A body that goes on
 * sending, or does not end soon, is dropped as before.
 */
export function releaseBody(body: ReleasableBody): void {
  if (body.readableEnded) return;
  let left = RELEASE_MAX_BYTES;
  const timer = setTimeout(() => discardBody(body), RELEASE_MAX_WAIT_MS);
  timer.unref();
  body.on('error', () => {});
  body.on('close', () => clearTimeout(timer));
  body.on('data', (chunk: Buffer | string) => {
    left -= chunk.length;
    if (left < 0) discardBody(body);
  });
  body.resume();
}

/** A body that can also be read whole by its client (undici's `text()`). */
type TextBody = DestroyableBody & { text?: () => Promise<string> };

/**
 * Reads a response body as UTF-8 text, refusing (and dropping the connection) past `limit` bytes.
 * A body whose declared length (`Content-Length`) is within the limit is read whole by undici, which
 * cannot read past that length; one of unknown length is counted chunk by chunk.
 */
export async function readBodyText(
  body: TextBody,
  limit: number,
  deadline: CallDeadline,
  requestId?: string,
  declaredBytes?: number,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    if (declaredBytes !== undefined && declaredBytes <= limit && body.text !== undefined) {
      return await body.text();
    }
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
