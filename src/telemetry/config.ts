import {
  ConfigError,
  type Env,
  optional,
  readBoolean,
  readFileVariable,
  readInt,
  readString,
} from '../config-values.js';
import { extended } from '../runtime/objects.js';
import type { SpanLimits } from './recording-span.js';
import type { TracingConfig } from './tracing.js';

/**
 * The telemetry part of the configuration, read from the environment record config.ts hands in:
 * the metrics endpoint's token and optional port, log format, and the standard OpenTelemetry
 * variables for traces (off unless an OTLP endpoint is set).
 */

export interface TelemetryConfig {
  /** `/metrics` with client keys configured: this bearer token, or 404 without one. */
  metricsToken: string | undefined;
  /** A second port serving `/metrics` (and `/healthz`) alone, for a scraper on an internal network. */
  metricsPort: number | undefined;
  /** Human-readable log lines (pino-pretty); by default when stdout is a terminal. */
  prettyLogs: boolean;
  tracing: TracingConfig | undefined;
}

const samplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

/**
 * `key=value,key2=value2`, values percent-encoded, as the OTLP exporter specification writes its
 * headers and the resource specification OTEL_RESOURCE_ATTRIBUTES.
 */
function readHeaders(env: Env, name: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const entry of (env[name] ?? '').split(',')) {
    if (entry.trim() === '') continue;
    const at = entry.indexOf('=');
    if (at <= 0) throw new ConfigError(`${name}: expected key=value pairs separated by commas`);
    try {
      headers[decodeURIComponent(entry.slice(0, at).trim())] = decodeURIComponent(entry.slice(at + 1).trim());
    } catch {
      throw new ConfigError(`${name}: a header is not valid percent-encoding`);
    }
  }
  return headers;
}

function readUrl(name: string, value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
    return url.href;
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${value}"`);
  }
}

/** The SDK's span limits, from the span variables or the general ones (OTEL_ATTRIBUTE_*). */
function readSpanLimits(env: Env): Partial<SpanLimits> {
  const limit = (span: string, general: string | undefined) => {
    const name = optional(env[span]) !== undefined || general === undefined ? span : general;
    return optional(env[name]) === undefined ? undefined : readInt(env, name, 0, 0, 1_000_000_000);
  };
  const entries = {
    attributeCount: limit('OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 'OTEL_ATTRIBUTE_COUNT_LIMIT'),
    attributeValueLength: limit(
      'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
      'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT',
    ),
    eventCount: limit('OTEL_SPAN_EVENT_COUNT_LIMIT', undefined),
    linkCount: limit('OTEL_SPAN_LINK_COUNT_LIMIT', undefined),
  };
  return Object.fromEntries(Object.entries(entries).filter(([, value]) => value !== undefined));
}

function readTracing(env: Env): TracingConfig | undefined {
  if (readBoolean(env, 'OTEL_SDK_DISABLED', false)) return undefined;
  const exporter = readString(env, 'OTEL_TRACES_EXPORTER', 'otlp');
  if (exporter === 'none') return undefined;
  if (exporter !== 'otlp') {
    throw new ConfigError(
      `OTEL_TRACES_EXPORTER must be otlp or none (the only exporters shipped), got "${exporter}"`,
    );
  }
  const traces = optional(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  const base = optional(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (traces === undefined && base === undefined) return undefined;
  // The signal's own variable is the whole URL; the base one gets the signal's path appended.
  const url =
    traces !== undefined
      ? readUrl('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces)
      : readUrl('OTEL_EXPORTER_OTLP_ENDPOINT', `${(base as string).replace(/\/+$/, '')}/v1/traces`);
  const sampler = readString(env, 'OTEL_TRACES_SAMPLER', 'parentbased_always_on');
  if (!samplers.includes(sampler)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER must be one of ${samplers.join(', ')}, got "${sampler}"`);
  }
  const arg = optional(env.OTEL_TRACES_SAMPLER_ARG);
  const ratio = arg === undefined ? undefined : Number(arg);
  if (ratio !== undefined && !(ratio >= 0 && ratio <= 1)) {
    throw new ConfigError(`OTEL_TRACES_SAMPLER_ARG must be a ratio from 0 to 1, got "${arg}"`);
  }
  const protocol = readString(
    env,
    'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    readString(env, 'OTEL_EXPORTER_OTLP_PROTOCOL', 'http/protobuf'),
  );
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new ConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or http/json (gRPC is not shipped), got "${protocol}"`,
    );
  }
  const resource = readHeaders(env, 'OTEL_RESOURCE_ATTRIBUTES');
  // The traces variable of each setting wins over the general one, as the exporter specification says.
  const signal = (name: string) =>
    optional(env[`OTEL_EXPORTER_OTLP_TRACES_${name}`]) === undefined
      ? `OTEL_EXPORTER_OTLP_${name}`
      : `OTEL_EXPORTER_OTLP_TRACES_${name}`;
  const compression = readString(env, signal('COMPRESSION'), 'none');
  if (compression !== 'gzip' && compression !== 'none') {
    throw new ConfigError(`${signal('COMPRESSION')} must be gzip or none, got "${compression}"`);
  }
  const pem = (name: string) => readFileVariable(env, signal(name), (text) => text, Error);
  const tls = { ca: pem('CERTIFICATE'), cert: pem('CLIENT_CERTIFICATE'), key: pem('CLIENT_KEY') };
  return {
    url,
    protocol,
    headers: extended(
      readHeaders(env, 'OTEL_EXPORTER_OTLP_HEADERS'),
      readHeaders(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS'),
    ),
    serviceName: readString(env, 'OTEL_SERVICE_NAME', resource['service.name'] ?? 'completions-subgraph'),
    resourceAttributes: resource,
    sampler,
    samplerArg: ratio,
    captureContent: readBoolean(env, 'OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT', false),
    batchSize: readInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1, 100_000),
    batchDelayMs: readInt(env, 'OTEL_BSP_SCHEDULE_DELAY', 5_000, 0, 3_600_000),
    timeoutMs: readInt(env, signal('TIMEOUT'), 10_000, 1, 600_000),
    limits: readSpanLimits(env),
    compression,
    ...(tls.ca === undefined && tls.cert === undefined && tls.key === undefined
      ? {}
      : { tls: Object.fromEntries(Object.entries(tls).filter(([, pemText]) => pemText !== undefined)) }),
  };
}

export function readTelemetryConfig(env: Env, stdoutIsTerminal: boolean): TelemetryConfig {
  const port = optional(env.METRICS_PORT);
  return {
    metricsToken: optional(env.METRICS_TOKEN),
    metricsPort: port === undefined ? undefined : readInt(env, 'METRICS_PORT', 0, 0, 65_535),
    prettyLogs: readBoolean(env, 'LOG_PRETTY', stdoutIsTerminal),
    tracing: readTracing(env),
  };
}
