import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

/** The standard OTEL_* variables, METRICS_* and LOG_PRETTY, read once at start. */

describe('telemetry configuration', () => {
  it('leaves traces off without an OTLP endpoint', () => {
    expect(loadConfig({}).telemetry.tracing).toBeUndefined();
  });

  it('appends the signal path to the base endpoint, and takes the traces endpoint as it is', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).telemetry.tracing?.url).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/custom',
      }).telemetry.tracing?.url,
    ).toBe('https://traces.example/custom');
  });

  it('reads headers, service name, resource, sampler, protocol, batching and the content opt-in', () => {
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_EXPORTER_OTLP_HEADERS: 'api-key=a%20b,x-tenant=t1',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-tenant=t2',
      OTEL_SERVICE_NAME: 'llm-edge',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: 'true',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.name=ignored',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '128',
      OTEL_BSP_SCHEDULE_DELAY: '1000',
      OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4096',
      OTEL_ATTRIBUTE_COUNT_LIMIT: '64',
      OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '32',
    }).telemetry.tracing;
    expect(tracing).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/json',
      headers: { 'api-key': 'a b', 'x-tenant': 't2' },
      serviceName: 'llm-edge',
      sampler: 'parentbased_traceidratio',
      samplerArg: 0.25,
      captureContent: true,
      // OTEL_SERVICE_NAME wins over a service.name among the resource attributes.
      resourceAttributes: { 'deployment.environment.name': 'prod', 'service.name': 'ignored' },
      batchSize: 128,
      batchDelayMs: 1000,
      timeoutMs: 10_000,
      compression: 'none',
      // The span variable wins over the general one.
      limits: { attributeCount: 32, attributeValueLength: 4096 },
    });
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-resource',
      }).telemetry.tracing?.serviceName,
    ).toBe('from-resource');
  });

  it('reads the traces variables of timeout, compression and TLS over the general ones', () => {
    const ca = join(mkdtempSync(join(tmpdir(), 'otel-tls-')), 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const tracing = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318',
      OTEL_EXPORTER_OTLP_TIMEOUT: '2000',
      OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '3000',
      OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
      OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: ca,
    }).telemetry.tracing;
    expect(tracing).toMatchObject({
      timeoutMs: 3000,
      compression: 'gzip',
      tls: { ca: readFileSync(ca, 'utf8') },
    });
  });

  it('refuses what it cannot honour, naming the variable', () => {
    const base = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    for (const [name, value] of [
      ['OTEL_TRACES_SAMPLER', 'sometimes'],
      ['OTEL_TRACES_SAMPLER_ARG', '2'],
      ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc'],
      ['OTEL_EXPORTER_OTLP_HEADERS', 'no-equals-sign'],
      ['OTEL_RESOURCE_ATTRIBUTES', 'a=%zz'],
      ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', '0'],
      ['OTEL_EXPORTER_OTLP_COMPRESSION', 'brotli'],
      ['OTEL_TRACES_EXPORTER', 'zipkin'],
      ['OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', '-1'],
      ['OTEL_EXPORTER_OTLP_CERTIFICATE', '/nonexistent/ca.pem'],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
      ['METRICS_PORT', '99999'],
    ] as const) {
      expect(() => loadConfig({ ...base, [name]: value })).toThrowError(ConfigError);
      expect(() => loadConfig({ ...base, [name]: value })).toThrowError(name);
    }
  });

  it('turns traces off with OTEL_TRACES_EXPORTER=none', () => {
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(loadConfig({ ...env, OTEL_TRACES_EXPORTER: 'otlp' }).telemetry.tracing).toBeDefined();
    expect(loadConfig({ ...env, OTEL_TRACES_EXPORTER: 'none' }).telemetry.tracing).toBeUndefined();
  });

  it('turns traces off with OTEL_SDK_DISABLED, and reads the metrics token and port', () => {
    const config = loadConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
      OTEL_SDK_DISABLED: 'true',
      METRICS_TOKEN: 'scrape',
      METRICS_PORT: '9464',
      LOG_PRETTY: 'false',
    });
    expect(config.telemetry).toEqual({
      metricsToken: 'scrape',
      metricsPort: 9464,
      prettyLogs: false,
      tracing: undefined,
    });
  });
});
