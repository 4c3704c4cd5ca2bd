import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/**
 * An OTLP/HTTP traces receiver on 127.0.0.1, as a collector would be: it takes both encodings
 * (`application/x-protobuf`, decoded here from the wire format, and `application/json`) and gives
 * the spans in OTLP/JSON's shape (hex ids, typed attribute values).
 */

type AnyValue = Record<string, unknown>;
interface KeyValue {
  key: string;
  value: AnyValue;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: KeyValue[];
  events?: { name: string; attributes: KeyValue[]; timeUnixNano?: string; droppedAttributesCount?: number }[];
  status?: { code?: number; message?: string };
  traceState?: string;
  flags?: number;
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  droppedAttributesCount?: number;
  droppedEventsCount?: number;
  links?: { traceId: string; spanId: string; traceState?: string; attributes: KeyValue[]; flags?: number }[];
  droppedLinksCount?: number;
}

export interface Receiver {
  url: string;
  contentTypes: string[];
  headers: IncomingHttpHeaders[];
  /** Everything received, as text (protobuf bodies as latin1), to look for what must not be there. */
  raw(): string;
  spans(): OtlpSpan[];
  close(): Promise<void>;
}

/** Protobuf fields of one message: field number → raw values (varint as bigint, or bytes). */
function fields(buffer: Uint8Array): Map<number, (bigint | Uint8Array)[]> {
  const out = new Map<number, (bigint | Uint8Array)[]>();
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buffer[at++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (at < buffer.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value: bigint | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      value = buffer.subarray(at, at + 8);
      at += 8;
    } else if (wire === 2) {
      const length = Number(varint());
      value = buffer.subarray(at, at + length);
      at += length;
    } else if (wire === 5) {
      value = buffer.subarray(at, at + 4);
      at += 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const text = (value: bigint | Uint8Array | undefined) => Buffer.from(value as Uint8Array).toString('utf8');
const hex = (value: bigint | Uint8Array | undefined) => Buffer.from(value as Uint8Array).toString('hex');

function anyValue(buffer: Uint8Array): AnyValue {
  const f = fields(buffer);
  if (f.has(1)) return { stringValue: text(f.get(1)?.[0]) };
  if (f.has(2)) return { boolValue: f.get(2)?.[0] === 1n };
  if (f.has(3)) return { intValue: String(BigInt.asIntN(64, f.get(3)?.[0] as bigint)) };
  if (f.has(4)) return { doubleValue: Buffer.from(f.get(4)?.[0] as Uint8Array).readDoubleLE(0) };
  if (f.has(5)) {
    const values = fields(f.get(5)?.[0] as Uint8Array).get(1) ?? [];
    return { arrayValue: { values: values.map((v) => anyValue(v as Uint8Array)) } };
  }
  return {};
}

function keyValues(values: (bigint | Uint8Array)[] | undefined): KeyValue[] {
  return (values ?? []).map((entry) => {
    const f = fields(entry as Uint8Array);
    return { key: text(f.get(1)?.[0]), value: anyValue((f.get(2)?.[0] as Uint8Array) ?? new Uint8Array()) };
  });
}

const fixed64 = (value: bigint | Uint8Array | undefined) =>
  value === undefined ? undefined : String(Buffer.from(value as Uint8Array).readBigUInt64LE(0));
const fixed32 = (value: bigint | Uint8Array | undefined) =>
  value === undefined ? undefined : Buffer.from(value as Uint8Array).readUInt32LE(0);
const count = (value: bigint | Uint8Array | undefined) => (value === undefined ? undefined : Number(value));

/** Optional fields: present in the result only when the message had them. */
function present<T extends Record<string, unknown>>(entries: T): Partial<T> {
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined)) as Partial<T>;
}

function decodeProtobuf(body: Buffer): OtlpSpan[] {
  const spans: OtlpSpan[] = [];
  for (const resource of fields(body).get(1) ?? []) {
    for (const scope of fields(resource as Uint8Array).get(2) ?? []) {
      for (const raw of fields(scope as Uint8Array).get(2) ?? []) {
        const f = fields(raw as Uint8Array);
        const parent = f.get(4)?.[0];
        const status = f.get(15)?.[0];
        const statusFields = status === undefined ? undefined : fields(status as Uint8Array);
        const traceState = f.get(3)?.[0];
        spans.push({
          traceId: hex(f.get(1)?.[0]),
          spanId: hex(f.get(2)?.[0]),
          ...(parent === undefined || (parent as Uint8Array).length === 0
            ? {}
            : { parentSpanId: hex(parent) }),
          name: text(f.get(5)?.[0]),
          kind: Number(f.get(6)?.[0] ?? 0n),
          attributes: keyValues(f.get(9)),
          events: (f.get(11) ?? []).map((event) => {
            const e = fields(event as Uint8Array);
            return {
              name: text(e.get(2)?.[0]),
              attributes: keyValues(e.get(3)),
              ...present({
                timeUnixNano: fixed64(e.get(1)?.[0]),
                droppedAttributesCount: count(e.get(4)?.[0]),
              }),
            };
          }),
          ...(statusFields === undefined
            ? {}
            : {
                status: {
                  code: Number(statusFields.get(3)?.[0] ?? 0n),
                  ...present({ message: statusFields.has(2) ? text(statusFields.get(2)?.[0]) : undefined }),
                },
              }),
          ...present({
            traceState: traceState === undefined ? undefined : text(traceState),
            flags: fixed32(f.get(16)?.[0]),
            startTimeUnixNano: fixed64(f.get(7)?.[0]),
            endTimeUnixNano: fixed64(f.get(8)?.[0]),
            droppedAttributesCount: count(f.get(10)?.[0]),
            droppedEventsCount: count(f.get(12)?.[0]),
            droppedLinksCount: count(f.get(14)?.[0]),
          }),
          links: (f.get(13) ?? []).map((link) => {
            const l = fields(link as Uint8Array);
            const state = l.get(3)?.[0];
            return {
              traceId: hex(l.get(1)?.[0]),
              spanId: hex(l.get(2)?.[0]),
              attributes: keyValues(l.get(4)),
              ...present({
                traceState: state === undefined ? undefined : text(state),
                flags: fixed32(l.get(6)?.[0]),
              }),
            };
          }),
        });
      }
    }
  }
  return spans;
}

function decodeJson(body: Buffer): OtlpSpan[] {
  const parsed = JSON.parse(body.toString('utf8')) as {
    resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
  };
  return parsed.resourceSpans.flatMap((resource) => resource.scopeSpans.flatMap((scope) => scope.spans));
}

/** The spans of one export request, as the receiver decodes them. */
export function decodeTraces(body: Uint8Array, contentType: string): OtlpSpan[] {
  return contentType.includes('json') ? decodeJson(Buffer.from(body)) : decodeProtobuf(Buffer.from(body));
}

export interface ReceiverOptions {
  /** Answers for the first requests, in order (e.g. 503 with `retry-after`); 200 after them. */
  answers?: { status: number; headers?: Record<string, string> }[];
  /** PEM certificate and key: the receiver speaks HTTPS. */
  tls?: { cert: string; key: string };
}

export async function startOtlpReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const answers = [...(options.answers ?? [])];
  const bodies: { type: string; body: Buffer }[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      headers.push(req.headers);
      const answer = answers.shift();
      if (answer !== undefined) {
        res.writeHead(answer.status, answer.headers).end();
        return;
      }
      if (req.url === '/v1/traces') {
        const body = Buffer.concat(chunks);
        const gzipped = req.headers['content-encoding'] === 'gzip';
        bodies.push({ type: req.headers['content-type'] ?? '', body: gzipped ? gunzipSync(body) : body });
      }
      // An empty ExportTraceServiceResponse in either encoding.
      const json = req.headers['content-type']?.includes('json');
      res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : undefined);
    });
  };
  const server: Server =
    options.tls === undefined ? createServer(handle) : createTlsServer(options.tls, handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    get contentTypes() {
      return bodies.map((entry) => entry.type);
    },
    headers,
    raw: () => bodies.map((entry) => entry.body.toString('latin1')).join('\n'),
    spans: () =>
      bodies.flatMap((entry) =>
        entry.type.includes('json') ? decodeJson(entry.body) : decodeProtobuf(entry.body),
      ),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
