import { LimiterConfigError } from './errors.js';

/**
 * Reading a store URL without ever letting its password out: everything that names the store in a
 * message uses `target`, and text from lower layers goes through `scrub` first.
 */

export interface StoreUrl {
  /** Scheme, host, port and database only. */
  target: string;
  scrub(text: string): string;
}

export function parseStoreUrl(url: string): StoreUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The raw string may be nothing but a password pasted in the wrong variable: do not echo it.
    throw new LimiterConfigError('The rate limit store URL is not a valid URL');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new LimiterConfigError(
      `The rate limit store URL must use redis: or rediss:, got ${parsed.protocol}`,
    );
  }
  const secrets = [parsed.password, safeDecode(parsed.password)].filter((secret) => secret.length > 0);
  const port = parsed.port === '' ? '6379' : parsed.port;
  const database = parsed.pathname.length > 1 ? parsed.pathname : '';
  return {
    target: `${parsed.protocol}//${parsed.hostname}:${port}${database}`,
    scrub(text: string) {
      let out = text;
      for (const secret of secrets) out = out.split(secret).join('[redacted]');
      return out;
    },
  };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
