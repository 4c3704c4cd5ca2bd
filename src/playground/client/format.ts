/** How probabilities and tokens are written on the page; no DOM, so tests format the same way. */

export function probability(logprob: number): number {
  return Math.exp(logprob);
}

export function percentText(logprob: number): string {
  const p = probability(logprob) * 100;
  if (p >= 99.95) return '100 %';
  if (p < 0.1) return '<0.1 %';
  return `${p.toFixed(1)} %`;
}

export function logprobText(logprob: number): string {
  return logprob.toFixed(3);
}

/** 0 (under 10 %) to 9 (90 % and over): the token's shade. */
export function shadeBucket(logprob: number): number {
  return Math.min(9, Math.max(0, Math.floor(probability(logprob) * 10)));
}

/** A token with its spaces and line breaks visible: `" been"`, `"\n"`. */
export function tokenText(token: string): string {
  return JSON.stringify(token);
}

export function millisecondsText(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function rateText(tokens: number, ms: number): string {
  if (tokens <= 0 || ms <= 0) return '—';
  const rate = (tokens * 1000) / ms;
  return rate >= 100 ? `${Math.round(rate)}` : rate.toFixed(1);
}
