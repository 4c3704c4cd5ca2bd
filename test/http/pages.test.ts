import { execFile } from 'node:child_process';
import { request } from 'node:http';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphiqlContentSecurityPolicy, renderOfflineGraphiQL } from '../../src/http/graphiql.js';
import { playgroundContentSecurityPolicy } from '../../src/http/playground.js';
import { reply } from '../helpers/stub-upstream.js';
import { type StubbedApp, startStubbedApp, stopStubbedApp } from '../helpers/test-app.js';

/** The browser pages over plain HTTP: headers, caching, compression, and what stays GraphQL. */

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

let stubbed: StubbedApp;
let origin: string;

beforeAll(async () => {
  stubbed = await startStubbedApp();
  stubbed.stub.on('GET', '/models', reply.models('m'));
  origin = stubbed.app.origin;
});

afterAll(async () => {
  if (stubbed) await stopStubbedApp(stubbed);
});

function assetUrls(html: string, prefix: string): string[] {
  return [...html.matchAll(/(?:src|href)="([^"]+)"/g)]
    .map((match) => match[1] ?? '')
    .filter((url) => url.startsWith(prefix));
}

describe('/playground', () => {
  it('serves a small page under a strict CSP, its files hashed, cached for good and gzipped', async () => {
    const page = await get(`${origin}/playground`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(playgroundContentSecurityPolicy);
    expect(playgroundContentSecurityPolicy).not.toContain('unsafe');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-cache');
    const html = page.body.toString();
    expect(html).not.toMatch(/<script>|<style>| style="/);
    const urls = assetUrls(html, '/playground/assets/');
    expect(urls.map((url) => url.replace(/\.[0-9a-f]{12}\./, '.*.'))).toEqual([
      '/playground/assets/favicon.*.svg',
      '/playground/assets/playground.*.css',
      '/playground/assets/playground.*.js',
    ]);
    let weight = page.body.length;
    for (const url of urls) {
      const plain = await get(`${origin}${url}`);
      const zipped = await get(`${origin}${url}`, { 'accept-encoding': 'gzip' });
      expect(plain.status).toBe(200);
      expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(plain.headers['x-content-type-options']).toBe('nosniff');
      if (zipped.headers['content-encoding'] === 'gzip') {
        expect(gunzipSync(zipped.body)).toEqual(plain.body);
      }
      weight += zipped.body.length;
      const again = await get(`${origin}${url}`, { 'if-none-match': String(plain.headers.etag) });
      expect(again.status).toBe(304);
      expect(again.body.length).toBe(0);
    }
    // Small and dependency-light: the whole page, compressed, in a few tens of kilobytes.
    expect(weight).toBeLessThan(40_000);
    expect((await get(`${origin}/playground/`)).status).toBe(200);
  });

  it('answers HEAD without a body, refuses other methods, and leaves unknown files to yoga (404)', async () => {
    const head = await get(`${origin}/playground`, {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    const post = await get(`${origin}/playground`, {}, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await get(`${origin}/playground/assets/nothing.js`)).status).toBe(404);
    expect((await get(`${origin}/graphiql/nothing.js`)).status).toBe(404);
  });
});

describe('GraphiQL', () => {
  it('is a small page naming files of this server, under a CSP that keeps scripts and workers here', async () => {
    const page = await get(`${origin}/graphql`, { accept: 'text/html' });
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBe(graphiqlContentSecurityPolicy);
    const html = page.body.toString();
    expect(page.body.length).toBeLessThan(4_000);
    // A client key typed into the headers tab is not written to localStorage.
    const options = /<script type="application\/json" id="graphiql-options">(.*?)<\/script>/s.exec(html)?.[1];
    expect(JSON.parse(options ?? '{}')).toMatchObject({ shouldPersistHeaders: false });
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/);
    const urls = assetUrls(html, '/graphiql/');
    expect(urls).toHaveLength(4);
    const boot = await get(`${origin}${urls.find((url) => url.includes('/boot.')) ?? ''}`);
    const workers = [
      ...boot.body.toString().matchAll(/"(\/graphiql\/[A-Za-z]+Worker[A-Za-z]*\.[0-9a-f]{12}\.js)"/g),
    ];
    expect(workers.map((match) => match[1]?.split('.')[0])).toEqual([
      '/graphiql/editorWorkerService',
      '/graphiql/jsonWorker',
      '/graphiql/graphqlWorker',
    ]);
    for (const url of [...urls, ...workers.map((match) => match[1] ?? '')]) {
      const asset = await get(`${origin}${url}`, { 'accept-encoding': 'gzip' });
      expect(asset.status, url).toBe(200);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
  });

  it('keeps GraphQL requests GraphQL: JSON and GET queries are not answered with the page', async () => {
    const post = await stubbed.app.post('{ models { id } }');
    expect(post.json.data.models).toEqual([{ id: 'm' }]);
    const viaGet = await get(`${origin}/graphql?query=${encodeURIComponent('{ models { id } }')}`, {
      accept: 'application/json',
    });
    expect(JSON.parse(viaGet.body.toString()).data.models).toEqual([{ id: 'm' }]);
  });

  it('puts its options where no text in them can end the script element', async () => {
    const html = await renderOfflineGraphiQL({
      title: '<b>t</b>',
      defaultQuery: '# </script><script>alert(1)</script>',
    });
    expect(html).toContain('<title>&lt;b&gt;t&lt;/b&gt;</title>');
    expect(html.match(/<\/script>/g)).toHaveLength(3);
    const json = /<script type="application\/json" id="graphiql-options">(.*?)<\/script>/s.exec(html)?.[1];
    expect(JSON.parse(json ?? '').defaultQuery).toBe('# </script><script>alert(1)</script>');
  });
});

describe('the playground client', () => {
  it('typechecks with the DOM library (tsc -p src/playground/client)', async () => {
    const tsc = promisify(execFile)('npx', ['tsc', '--noEmit', '-p', 'src/playground/client']);
    await expect(tsc).resolves.toMatchObject({ stdout: '' });
  }, 60_000);
});
