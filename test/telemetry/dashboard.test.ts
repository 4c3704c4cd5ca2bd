import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wsClient } from '../helpers/clients.js';
import { completionStream, createCompletion } from '../helpers/operations.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/** The shipped Grafana dashboard queries only what the service exports, with labels it has. */

const dashboard = JSON.parse(
  readFileSync(new URL('../../ops/grafana/completions-subgraph.json', import.meta.url), 'utf8'),
) as { panels: { title: string; targets: { expr: string }[] }[] };

const input = { model: 'gpt-3.5-turbo-instruct', prompt: { text: 'Hi' }, maxTokens: 5 };

let stubbed: StubbedApp;
let exposition: string;
beforeAll(async () => {
  stubbed = await startStubbedApp();
  stubbed.stub.on('POST', '/completions', reply.completionOrStream());
  await stubbed.app.post(createCompletion, { input });
  await wsClient(stubbed.app.graphqlUrl).run(completionStream, { input });
  stubbed.stub.on('POST', '/completions', reply.json(400, { error: { message: 'no' } }));
  await stubbed.app.post(createCompletion, { input });
  exposition = await (await fetch(`${stubbed.app.origin}/metrics`)).text();
});
afterAll(() => stopStubbedApp(stubbed));

/** Metric families the service exports, by name, with their type. */
function families(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm))
    found.set(match[1] as string, match[2] as string);
  return found;
}

function familyOf(series: string, known: Map<string, string>): string | undefined {
  if (known.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, '');
  return known.get(base) === 'histogram' ? base : undefined;
}

/** The label names present on a series' samples. */
function labelsOf(series: string, text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(new RegExp(`^${series}\\{([^}]*)\\}`, 'gm'))) {
    for (const pair of (match[1] as string).matchAll(/(\w+)="/g)) names.add(pair[1] as string);
  }
  return names;
}

const queries = dashboard.panels.flatMap((panel) =>
  panel.targets.map((target) => ({ title: panel.title, expr: target.expr })),
);

describe('ops/grafana/completions-subgraph.json', () => {
  it('has the panels an operator asks for first', () => {
    const titles = dashboard.panels.map((panel) => panel.title).join('\n');
    for (const topic of [
      /tokens per second/i,
      /cost per client/i,
      /p50 \/ p95/i,
      /first chunk/i,
      /outcome/i,
      /breaker/i,
    ]) {
      expect(titles).toMatch(topic);
    }
  });

  it.each(queries)('$title: $expr', ({ expr }) => {
    const known = families(exposition);
    const selectors = [...expr.matchAll(/([a-z_][a-z0-9_]*)\{/g)].map((match) => match[1] as string);
    expect(selectors.length).toBeGreaterThan(0);
    for (const series of selectors) {
      expect(familyOf(series, known), `${series} is not exported`).toBeDefined();
      const grouped = [...expr.matchAll(/by \(([^)]*)\)/g)].flatMap((match) =>
        (match[1] as string).split(',').map((name) => name.trim()),
      );
      const present = labelsOf(series, exposition);
      for (const label of grouped.filter((name) => name !== 'le' || series.endsWith('_bucket'))) {
        // Gauges without labels have none to group by; every label grouped on must exist.
        expect(present.has(label), `${series} has no label ${label}`).toBe(true);
      }
    }
  });
});
