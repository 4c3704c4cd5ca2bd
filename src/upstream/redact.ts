/**
 * Removes key material from text that may leave the process (error messages, log lines). Upstreams
 * echo parts of a rejected key ("Incorrect API key provided: sk-abc****wxyz"), so the exact secret
 * is not enough: masked fragments and anything shaped like an API key go too.
 */

// Each pattern below runs in linear time: a fixed prefix, then greedy runs that nothing follows.
// `\S*\*{3,}\S*` did not (every start in a long run of non-space rescanned the run), so masked
// fragments are found as whole non-space runs that contain `***` instead: the same matches.
const KEY_SHAPED = /\b(?:sk|pk|rk|sess)-[A-Za-z0-9_*.-]{3,}/g;
const NON_SPACE_RUN = /\S+/g;
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi;

export const REDACTED = '[redacted]';

export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (secret === undefined || secret.length < 6) continue;
    out = out.split(secret).join(REDACTED);
    // The upstream shows the first and last characters of a key: never echo those either.
    for (const part of [secret.slice(0, 8), secret.slice(-6)]) {
      if (part.length >= 6) out = out.split(part).join(REDACTED);
    }
  }
  out = out.replace(BEARER, `Bearer ${REDACTED}`).replace(KEY_SHAPED, REDACTED);
  // Most lines have no mask at all: one search, no callback per word.
  if (!out.includes('***')) return out;
  return out.replace(NON_SPACE_RUN, (run) => (run.includes('***') ? REDACTED : run));
}
