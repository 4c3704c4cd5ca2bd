import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
 * `/playground`: a page for watching completions stream, built on the public GraphQL API only.
 * Its sources are in src/playground/; the client's TypeScript is bundled with esbuild (a
 * dependency already, for `npm start`) on the first visit and kept in memory, so the page works
 * the same under tsx (tests, `npm run dev`) and from the bundled dist/main.js.
 */

export const playgroundPath = '/playground';
const assetPrefix = `${playgroundPath}/assets/`;

/** Everything from this origin; no inline script or style, no plugins, no framing. */
export const playgroundContentSecurityPolicy = closedContentSecurityPolicy([
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
]);

const pageHeaders = {
  'content-security-policy': playgroundContentSecurityPolicy,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

interface PlaygroundBundle {
  page: StaticAsset;
  assets: Map<string, StaticAsset>;
}

/**
 * src/playground, found upwards from this module: from src/http under tsx, from dist/ (or any
 * other bundle directory in the checkout) when bundled.
 */
function sourceDirectory(): string {
  const tried: string[] = [];
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    for (const candidate of [join(dir, 'playground'), join(dir, 'src', 'playground')]) {
      if (existsSync(join(candidate, 'index.html'))) return `${candidate}/`;
      tried.push(candidate);
    }
    if (dirname(dir) === dir || tried.length >= 10) break;
  }
  throw new Error(`playground sources not found (looked in ${tried.join(', ')})`);
}

async function bundleClient(dir: string): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [`${dir}client/main.ts`],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    tsconfig: `${dir}client/tsconfig.json`,
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error('esbuild wrote no playground bundle');
  return output.text;
}

async function buildPlayground(): Promise<PlaygroundBundle> {
  const dir = sourceDirectory();
  const [html, layout, output, icon, script] = await Promise.all([
    readFile(`${dir}index.html`, 'utf8'),
    readFile(`${dir}playground.css`, 'utf8'),
    readFile(`${dir}output.css`, 'utf8'),
    readFile(`${dir}favicon.svg`),
    bundleClient(dir),
  ]);
  const assets = new Map<string, StaticAsset>();
  const add = async (name: string, extension: string, type: string, content: string | Buffer) => {
    const asset = await createAsset(type, content, { immutable: true });
    const path = `${assetPrefix}${name}.${asset.hash}.${extension}`;
    assets.set(path, asset);
    return path;
  };
  const urls = {
    script: await add('playground', 'js', 'text/javascript; charset=utf-8', script),
    // One stylesheet, one request: the form's and the output's styles are kept in two files.
    style: await add('playground', 'css', 'text/css; charset=utf-8', `${layout}\n${output}`),
    favicon: await add('favicon', 'svg', 'image/svg+xml', icon),
  };
  const page = html.replace(/\{\{(script|style|favicon)\}\}/g, (_, key: keyof typeof urls) => urls[key]);
  return { page: await createAsset('text/html; charset=utf-8', page), assets };
}

export function createPlaygroundRoute(logger: Logger): RouteHandler {
  let loading: Promise<PlaygroundBundle> | undefined;
  const load = () => {
    loading ??= buildPlayground().catch((error: unknown) => {
      // Not kept: a fixed source file is picked up by the next request.
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return (req, res) => {
    const path = req.url?.split('?', 1)[0] ?? '';
    if (path !== playgroundPath && path !== `${playgroundPath}/` && !path.startsWith(assetPrefix))
      return false;
    return answer(req, res, path);
  };

  async function answer(req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> {
    let bundle: PlaygroundBundle;
    try {
      bundle = await load();
    } catch (error) {
      logger.error({ err: error }, 'the playground could not be built');
      sendAssetUnavailable(res);
      return true;
    }
    if (!path.startsWith(assetPrefix)) {
      sendAsset(req, res, bundle.page, pageHeaders);
      return true;
    }
    const asset = bundle.assets.get(path);
    if (asset === undefined) return false;
    sendAsset(req, res, asset);
    return true;
  }
}
