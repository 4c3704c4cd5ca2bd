/**
 * One soak request of each kind over real HTTP, and the verdict on how it ended: `ok`, `error`
 * (GraphQL errors, every one with `extensions.code`) or `lost` (network error, client timeout,
 * 5xx, a body that is not JSON, an error without a code, a stream that never completes, a read of
 * the client's own stored completion that does not find it).
 */
import { subscribe } from 'node:diagnostics_channel';
import { type Dispatcher, request } from 'undici';
import { client, deadlines } from './config.js';

export type OperationKind = 'mutation' | 'stream' | 'models' | 'read';

/** What one honest request does, as which client. */
export interface HonestOp {
  kind: OperationKind;
  /** `Authorization` header value. */
  authorization: string;
  /** A mutation with `store: true`. */
  store?: boolean;
  /** The stored completion a `read` asks for (one of this client's own). */
  readId?: string;
}

export interface Outcome {
  kind: OperationKind;
  tag: number;
  verdict: 'ok' | 'error' | 'lost';
  /** Every error's code (`error`), or those that had one (`lost`). */
  codes: string[];
  lostReason?: string;
  /** An excerpt of what came back, for a lost or late request. */
  detail?: string;
  latencyMs: number;
  /** `Date.now()` when the request was sent, to line it up with the stub's clock. */
  sentAt: number;
  /** An error that came later than the service's deadline (plus slack). */
  late: boolean;
  /** When undici wrote the request's headers to a socket (ms after `sentAt`). */
  headersWrittenAtMs?: number | undefined;
  /** When the service got the request (ms after `sentAt`), for the examples. */
  serviceAtMs?: number | undefined;
  /** The stub's answers to this request's upstream attempts and when (ms after `sentAt`), for the examples. */
  upstreamAnswers?: { answer: string; atMs: number | undefined }[];
  /** A `store: true` mutation's completion id, when the answer says it was stored. */
  storedId?: string | undefined;
}

/** Tag → `Date.now()` when undici wrote the request's headers (its own diagnostics channel). */
const headersWritten = new Map<number, number>();
subscribe('undici:client:sendHeaders', (message) => {
  const match = /x-soak-tag: (\d+)/i.exec((message as { headers?: string }).headers ?? '');
  if (match?.[1] !== undefined) headersWritten.set(Number(match[1]), Date.now());
});

const model = 'gpt-3.5-turbo-instruct';
const fields = 'id model created choices { index text finishReason } usage { promptTokens totalTokens }';
const mutation = `mutation Create($input: CreateCompletionInput!) { createCompletion(input: $input) { ${fields} } }`;
const subscription = `subscription Stream($input: CreateCompletionInput!) { completionStream(input: $input) { ${fields} } }`;
const storingMutation = `mutation Create($input: CreateCompletionInput!) { createCompletion(input: $input) { ${fields} storedAt } }`;
const modelsQuery = '{ models { id } }';
const readQuery = 'query Read($id: ID!) { completion(id: $id) { id choices { text } } }';

function body(query: string, tag: number, store: boolean): string {
  const input = {
    model,
    prompt: { text: `Who won the 2019 NBA Finals? #soak-${tag}` },
    maxTokens: 16,
    ...(store ? { store: true } : {}),
  };
  return JSON.stringify({ query, variables: { input } });
}

function requestBody(op: HonestOp, tag: number): string {
  if (op.kind === 'models') return JSON.stringify({ query: modelsQuery });
  if (op.kind === 'read') return JSON.stringify({ query: readQuery, variables: { id: op.readId } });
  if (op.kind === 'stream') return body(subscription, tag, false);
  return body(op.store === true ? storingMutation : mutation, tag, op.store === true);
}

const rootField: Record<OperationKind, string> = {
  mutation: 'createCompletion',
  stream: 'completionStream',
  models: 'models',
  read: 'completion',
};

interface GraphQLResult {
  data?: Record<string, unknown> | null;
  errors?: { message?: string; extensions?: { code?: unknown } }[];
}

/** Judges one GraphQL result; `field` is the root field that must be non-null on success. */
function judge(result: GraphQLResult, field: string): Pick<Outcome, 'verdict' | 'codes' | 'lostReason'> {
  const errors = Array.isArray(result.errors) ? result.errors : [];
  const codes = errors.flatMap((error) => {
    const code = error.extensions?.code;
    return typeof code === 'string' ? [code] : [];
  });
  if (codes.length < errors.length) return { verdict: 'lost', codes, lostReason: 'error without a code' };
  if (errors.length > 0) return { verdict: 'error', codes };
  if (result.data?.[field] == null) return { verdict: 'lost', codes, lostReason: 'no data and no errors' };
  return { verdict: 'ok', codes };
}

function parseJson(text: string): GraphQLResult | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as GraphQLResult) : undefined;
  } catch {
    return undefined;
  }
}

type Verdict = Omit<Outcome, 'kind' | 'tag' | 'latencyMs' | 'sentAt' | 'late'>;

const lost = (reason: string, detail: string): Verdict => ({
  verdict: 'lost',
  codes: [],
  lostReason: reason,
  detail: detail.slice(0, 400),
});

/** The verdict on a whole (non-event-stream) HTTP answer. */
function judgeResponse(status: number, text: string, op: HonestOp): Verdict {
  if (status >= 500) return lost(`HTTP ${status}`, text);
  const result = parseJson(text);
  if (result === undefined) return lost('non-JSON body', `HTTP ${status}: ${text}`);
  const verdict = judge(result, rootField[op.kind]);
  if (verdict.verdict === 'lost') return { ...verdict, detail: text.slice(0, 400) };
  const data = result.data?.[rootField[op.kind]] as { id?: unknown; storedAt?: unknown } | undefined;
  // The client paid for it and stored it: reading it back must find it.
  if (op.kind === 'read' && verdict.verdict === 'ok' && data?.id !== op.readId) {
    return lost('own stored completion read back wrong', text);
  }
  const warned = (result as { extensions?: { warnings?: unknown[] } }).extensions?.warnings?.length ?? 0;
  if (op.store === true && verdict.verdict === 'ok' && data?.storedAt != null && warned === 0) {
    return { ...verdict, storedId: String(data.id) };
  }
  return verdict;
}

function networkFailure(error: unknown, signal: AbortSignal) {
  if (signal.aborted) return lost('client timeout', `no answer within ${client.timeoutMs} ms`);
  const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return lost('network error', cause);
}

/** Sends one operation to the service's `/graphql` and reads the answer to its end. */
export async function runOne(
  op: HonestOp,
  tag: number,
  endpoint: URL,
  dispatcher: Dispatcher,
): Promise<Outcome> {
  const { kind } = op;
  const started = performance.now();
  const sentAt = Date.now();
  const signal = AbortSignal.timeout(client.timeoutMs);
  let partial: Omit<Outcome, 'kind' | 'tag' | 'latencyMs' | 'sentAt'>;
  try {
    const response = await request(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-soak-tag': String(tag),
        authorization: op.authorization,
        accept:
          kind === 'stream' ? 'text/event-stream' : 'application/graphql-response+json, application/json',
      },
      body: requestBody(op, tag),
      dispatcher,
      signal,
    });
    const type = String(response.headers['content-type'] ?? '');
    if (kind === 'stream' && response.statusCode === 200 && type.startsWith('text/event-stream')) {
      partial = await readStream(response.body, started);
    } else {
      const verdict = judgeResponse(response.statusCode, await response.body.text(), op);
      const late = verdict.verdict === 'error' && performance.now() - started > deadlines.mutationMs;
      partial = { ...verdict, late };
    }
  } catch (error) {
    partial = { ...networkFailure(error, signal), late: false };
  }
  const written = headersWritten.get(tag);
  headersWritten.delete(tag);
  const headersWrittenAtMs = written === undefined ? undefined : written - sentAt;
  return { kind, tag, sentAt, headersWrittenAtMs, latencyMs: performance.now() - started, ...partial };
}

/** Reads a GraphQL-over-SSE answer to its end: `next` events, then `complete`. */
async function readStream(
  source: AsyncIterable<Buffer>,
  started: number,
): Promise<Omit<Outcome, 'kind' | 'tag' | 'latencyMs' | 'sentAt'>> {
  let buffer = '';
  let text = '';
  let events = 0;
  let completed = false;
  let lastEventAt = started;
  let error: Omit<Outcome, 'kind' | 'tag' | 'latencyMs' | 'sentAt'> | undefined;
  for await (const chunk of source) {
    const piece = chunk.toString('utf8');
    buffer += piece;
    if (text.length < 2_000) text += piece;
    for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
      const lines = buffer.slice(0, end).split('\n');
      buffer = buffer.slice(end + 2);
      const type = lines
        .find((line) => line.startsWith('event:'))
        ?.slice(6)
        .trim();
      const data = lines
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      const now = performance.now();
      if (type === 'complete') completed = true;
      if (type !== 'next' || error !== undefined) continue;
      events++;
      const result = parseJson(data);
      if (result === undefined) error = { ...lost('non-JSON event', data), late: false };
      else if (result.errors !== undefined) {
        const verdict = judge(result, 'completionStream');
        const late = now - lastEventAt > deadlines.streamSilenceMs || now - started > deadlines.streamTotalMs;
        error = {
          ...verdict,
          late,
          ...(verdict.verdict === 'lost' || late ? { detail: data.slice(0, 400) } : {}),
        };
      }
      lastEventAt = now;
    }
  }
  if (error !== undefined) return error;
  if (!completed) return { ...lost('stream ended without complete', text), late: false };
  if (events === 0) return { ...lost('stream completed without events', text), late: false };
  return { verdict: 'ok', codes: [], late: false };
}
