import { keyShapedSource } from '../key-shapes.js';

/**
 * Removes key material from text that may leave the process (error messages, log lines). Upstreams
 * echo parts of a rejected key ("Incorrect API key provided: sk-abc****wxyz"), so the exact secret
 * is not enough: masked fragments and anything shaped like an API key go too.
 */

// Each pattern below runs in linear time: a fixed prefix, then greedy runs that nothing follows.
// `\S*\*{3,}\S*` did not (every start in a long run of non-space rescanned the run), so masked
// fragments are found as whole non-space runs that contain `***` instead: the same matches.
const KEY_SHAPED = new RegExp(keyShapedSource, 'g');
const NON_SPACE_RUN = /\S+/g;
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi;

export const REDACTED = '[redacted]';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Whether redactSecrets might change a text, in one regex pass built once for these secrets: what
 * it removes (the secrets, their fragments, a bearer token, a key-shaped word, a masked fragment).
 * Nearly every text has none of these and is passed as it is, without redactSecrets' passes.
 */
export function secretsDetector(secrets: readonly (string | undefined)[]): (text: string) => boolean {
  const fragments = new Set<string>();
  for (const secret of secretTexts(secrets)) {
    fragments.add(secret);
    for (const part of secretFragments(secret)) fragments.add(part);
  }
  const suspect = new RegExp(
    [
      ...[...fragments].map(escapeRegExp),
      '\\b[Bb][Ee][Aa][Rr][Ee][Rr]\\s',
      keyShapedSource,
      '\\*\\*\\*',
    ].join('|'),
  );
  return (text) => suspect.test(text);
}

export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  // Key-shaped words first, whole: a fragment of our own key (its public `sk-proj-` prefix) taken
  // out of another key first would leave that key's body behind.
  let out = text.replace(BEARER, `Bearer ${REDACTED}`).replace(KEY_SHAPED, REDACTED);
  for (const secret of secretTexts(secrets)) {
    out = out.split(secret).join(REDACTED);
    // The upstream shows the first and last characters of a key: never echo those either.
    for (const part of secretFragments(secret)) out = out.split(part).join(REDACTED);
  }
  // Most lines have no mask at all: one search, no callback per word.
  if (!out.includes('***')) return out;
  return out.replace(NON_SPACE_RUN, (run) => (run.includes('***') ? REDACTED : run));
}

/** A prefix every key of a kind shares (`sk-`, `sk-proj-`): public, and in every key-shaped word. */
const PUBLIC_PREFIX = /^(?:sk|pk|rk|sess)(?:-[a-z]*)*$/i;

/**
 * What of each secret is matched: a URL's password only (its host, path and user are not secret,
 * and a database named `completions` would take that word out of every line), else the secret.
 */
export function secretTexts(secrets: readonly (string | undefined)[]): string[] {
  const texts: string[] = [];
  for (const secret of secrets) {
    if (secret === undefined) continue;
    let text = secret;
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(secret)) {
      try {
        text = decodeURIComponent(new URL(secret).password);
      } catch {
        // Not a URL after all: the whole text is the secret.
      }
    }
    if (text.length >= 6) texts.push(text);
  }
  return texts;
}

/** The first and last characters an upstream echoes of a key, unless they are a public prefix. */
export function secretFragments(secret: string): string[] {
  return [secret.slice(0, 8), secret.slice(-6)].filter(
    (part) => part.length >= 6 && part !== secret && !PUBLIC_PREFIX.test(part),
  );
}
