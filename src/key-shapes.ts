/**
 * Words shaped like a credential, whichever service issued it: OpenAI-style `sk-`/`pk-`/`rk-`/
 * `sess-` keys, Stripe's `sk_live_`, GitHub tokens, AWS access key ids, Slack tokens, JWTs. The
 * scrubber takes them out of every line and message (upstream/redact.ts), the logger looks for them
 * before scrubbing (telemetry/logger.ts), and a request id of this shape is replaced (http/request-id.ts).
 * A leaf: any layer may use it. Every alternative starts with a fixed prefix and ends in one greedy
 * run, so a search is linear in the text.
 */
export const keyShapedSource = [
  '\\b(?:sk|pk|rk|sess)-[A-Za-z0-9_*.-]{3,}',
  '\\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}',
  '\\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}',
  '\\bgithub_pat_[A-Za-z0-9_]{20,}',
  '\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b',
  '\\bxox[abposr]-[A-Za-z0-9-]{10,}',
  '\\beyJ[A-Za-z0-9_-]{8,}\\.eyJ[A-Za-z0-9_-]{8,}\\.[A-Za-z0-9_-]*',
].join('|');
