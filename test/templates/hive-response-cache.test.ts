import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postGraphQL } from '../federation/fixtures.js';
import { type StubbedApp, stopStubbedApp } from '../helpers/test-app.js';
import { startHiveGateway } from './hive-fixture.js';
import {
  as,
  catalogue,
  type ProductsSubgraph,
  productsQuery,
  startProductsSubgraph,
  startTemplatesSubgraph,
  taglineQuery,
} from './products-subgraph.js';

/**
 * The Hive gateway's response cache (`responseCaching`, per client session) in front of the
 * composition of hive-gateway.test.ts, its subgraph requests made with the runtime's own fetch so
 * the cache sees each subgraph's Cache-Control: a products query whose aiSummary results are
 * reusable is answered by the gateway the second time (no request reaches the completions
 * subgraph); a sampled template's answer (`no-store, max-age=0`) is never kept.
 */

const sent: Record<string, number> = {};

/** The gateway's cache storage: a Map, each entry kept for the TTL it is given (seconds). */
function memoryCache() {
  const entries = new Map<string, { value: unknown; until: number }>();
  return {
    get: (key: string) => {
      const entry = entries.get(key);
      return entry !== undefined && entry.until > Date.now() ? entry.value : undefined;
    },
    set: (key: string, value: unknown, options?: { ttl?: number | null }) => {
      const ttl = options?.ttl;
      entries.set(key, { value, until: ttl == null ? Number.POSITIVE_INFINITY : Date.now() + ttl * 1000 });
    },
    delete: (key: string) => entries.delete(key),
    getKeysByPrefix: (prefix: string) => [...entries.keys()].filter((key) => key.startsWith(prefix)),
  };
}

let products: ProductsSubgraph;
let completions: StubbedApp;
let gateway: { url: string; close: () => Promise<void> } | undefined;
let gatewayUrl: string;

beforeAll(async () => {
  products = await startProductsSubgraph();
  completions = await startTemplatesSubgraph();
  gateway = await startHiveGateway(products, completions, {
    viaRuntimeFetch: true,
    onSend: (subgraph) => {
      sent[subgraph] = (sent[subgraph] ?? 0) + 1;
    },
    config: {
      // One cache entry per client key; without a subgraph's say, answers are kept a minute.
      responseCaching: { session: (request: Request) => request.headers.get('authorization'), ttl: 60_000 },
      cache: memoryCache(),
    },
  });
  gatewayUrl = gateway.url;
});

afterAll(async () => {
  await gateway?.close();
  await products?.close();
  if (completions) await stopStubbedApp(completions);
});

describe('the Hive gateway response cache', () => {
  it('keeps a products query whose aiSummary is reusable: the second answer never reaches the subgraph', async () => {
    products.products = catalogue(3, 'Kettle');
    const first = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    expect(first.json.errors).toBeUndefined();
    const before = sent.completions ?? 0;
    const again = await postGraphQL(gatewayUrl, productsQuery, undefined, as('alice'));
    expect(again.json.data).toEqual(first.json.data);
    expect(sent.completions ?? 0).toBe(before);
  });

  it('never keeps a sampled template answer (no-store, max-age=0): each query reaches the subgraph', async () => {
    products.products = catalogue(3, 'Teapot');
    const before = sent.completions ?? 0;
    for (let round = 0; round < 2; round++) {
      const { json } = await postGraphQL(gatewayUrl, taglineQuery, undefined, as('alice'));
      expect(json.errors).toBeUndefined();
    }
    expect((sent.completions ?? 0) - before).toBe(2);
  });

  it('never keeps a client’s own data (its usage): each query reaches the subgraph', async () => {
    const before = sent.completions ?? 0;
    for (let round = 0; round < 2; round++) {
      const { json } = await postGraphQL(gatewayUrl, '{ usage { client } }', undefined, as('alice'));
      expect(json.data.usage.client).toBe('alice');
    }
    expect((sent.completions ?? 0) - before).toBe(2);
  });
});
