import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import type { Logger } from 'pino';
import type { RouteHandler } from './route.js';
import {
  closedContentSecurityPolicy,
  createAsset,
  type StaticAsset,
  sendAsset,
  sendAssetUnavailable,
} from './static-asset.js';

/**
 * GraphiQL from the service itself, for machines without internet and behind proxies that block
 * CDNs. yoga's own page loads GraphiQL from unpkg; `@graphql-yoga/render-graphiql` carries the
 * same IDE bundled, but inlines all 9 MB (scripts, styles, editor workers) into every page load and
 * starts the workers from blob: URLs. Here each part is a file of its own with a hashed name, so
 * the browser caches it, the page is a small shell, and the page's Content-Security-Policy can
 * keep scripts and workers to this origin.
 */

export const graphiqlAssetPrefix = '/graphiql/';

/** Monaco asks for its workers by these labels. */
const workerLabels = {
  editorWorkerService: 'editorWorkerService',
  json: 'jsonWorker',
  graphql: 'graphqlWorker',
} as const;

interface GraphiqlBundle {
  /** By URL path. */
  assets: Map<string, StaticAsset>;
  scriptUrls: string[];
  styleUrl: string;
  faviconUrl: string;
}

/**
 * The page's policy. Styles allow 'unsafe-inline' because Monaco and GraphiQL's components insert
 * <style> elements at run time; scripts, workers and requests stay on this origin.
 */
export const graphiqlContentSecurityPolicy = closedContentSecurityPolicy([
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
]);

const pageHeaders = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': graphiqlContentSecurityPolicy,
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-cache',
};

let loading: Promise<GraphiqlBundle> | undefined;

/** Loaded on the first page view: the module alone is 9 MB of strings, not needed to serve GraphQL. */
function loadBundle(): Promise<GraphiqlBundle> {
  loading ??= buildBundle().catch((error: unknown) => {
    loading = undefined;
    throw error;
  });
  return loading;
}

async function buildBundle(): Promise<GraphiqlBundle> {
  const parts = await import('@graphql-yoga/render-graphiql/graphiql');
  const assets = new Map<string, StaticAsset>();
  const add = async (name: string, extension: string, type: string, content: string | Buffer) => {
    const asset = await createAsset(type, content, { immutable: true });
    const path = `${graphiqlAssetPrefix}${name}.${asset.hash}.${extension}`;
    assets.set(path, asset);
    return path;
  };
  const js = 'text/javascript; charset=utf-8';
  const workerUrls: Record<string, string> = {};
  for (const [label, part] of Object.entries(workerLabels)) {
    workerUrls[label] = await add(part, 'js', js, parts[part]);
  }
  // The boot script sets where Monaco finds its workers before GraphiQL's script runs, then
  // renders once the page is parsed; the page passes the options as JSON, so no inline script.
  const boot = `self.MonacoEnvironment={globalAPI:false,getWorkerUrl:function(_moduleId,label){return ${JSON.stringify(workerUrls)}[label];}};
document.addEventListener('DOMContentLoaded',function(){var options=JSON.parse(document.getElementById('graphiql-options').textContent);YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'),options);});
`;
  const [bootUrl, mainUrl, styleUrl, faviconUrl] = await Promise.all([
    add('boot', 'js', js, boot),
    add('graphiql', 'js', js, parts.js),
    add('graphiql', 'css', 'text/css; charset=utf-8', parts.css),
    add(
      'favicon',
      'ico',
      'image/x-icon',
      Buffer.from(parts.favicon.replace(/^data:[^,]*base64,/, ''), 'base64'),
    ),
  ]);
  return { assets, scriptUrls: [bootUrl, mainUrl], styleUrl, faviconUrl };
}

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** JSON inside <script type="application/json">: no `</script>` or `<!--` can end it early. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** yoga's `renderGraphiQL`: the small page that loads the IDE from this server. */
export async function renderOfflineGraphiQL(options: GraphiQLOptions = {}): Promise<string> {
  const bundle = await loadBundle();
  const scripts = bundle.scriptUrls.map((url) => `<script src="${url}"></script>`).join('\n    ');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(options.title ?? 'GraphiQL')}</title>
    <link rel="icon" href="${bundle.faviconUrl}" />
    <link rel="stylesheet" href="${bundle.styleUrl}" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript. Without it, POST GraphQL to this URL.</noscript>
    <div id="root"></div>
    <script type="application/json" id="graphiql-options">${scriptSafeJson(options)}</script>
    ${scripts}
  </body>
</html>
`;
}

/** The IDE's files under /graphiql/; anything else there is left to the next route. */
export function createGraphiqlAssetsRoute(logger: Logger): RouteHandler {
  return (req, res) => {
    const path = req.url?.split('?', 1)[0] ?? '';
    return path.startsWith(graphiqlAssetPrefix) ? answer(req, res, path) : false;
  };

  async function answer(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    let bundle: GraphiqlBundle;
    try {
      bundle = await loadBundle();
    } catch (error) {
      logger.error({ err: error }, 'GraphiQL assets could not be loaded');
      sendAssetUnavailable(res);
      return true;
    }
    const asset = bundle.assets.get(path);
    if (asset === undefined) return false;
    sendAsset(req, res, asset);
    return true;
  }
}

/** Puts the page's security headers on the GraphiQL page yoga renders (it sets only its type). */
export function useGraphiqlPageHeaders(): Plugin {
  return {
    onResponse({ request, response }) {
      if (request.method !== 'GET' || !response.headers.get('content-type')?.startsWith('text/html')) return;
      for (const [name, value] of Object.entries(pageHeaders)) response.headers.set(name, value);
    },
  };
}
