/** UPSTREAM: which provider serves when no UPSTREAMS_FILE is given. */
export type UpstreamChoice = 'auto' | 'openai' | 'local';

/** Which provider serves: an explicit UPSTREAM wins; `auto` follows the presence of a key. */
export function resolveUpstream(config: {
  upstream: UpstreamChoice;
  openaiApiKey: string | undefined;
}): 'openai' | 'local' {
  if (config.upstream !== 'auto') return config.upstream;
  return config.openaiApiKey === undefined ? 'local' : 'openai';
}
