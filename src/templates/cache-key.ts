import { createHash } from 'node:crypto';
import type { WireCompletionRequest } from '../upstream/wire.js';
import type { PromptTemplate } from './template.js';

/**
 * What decides whether a template's result may be reused, and under which key. Only results meant
 * to be repeatable are: temperature 0 or a fixed seed (after the caller's overrides), or any result
 * of a template whose policy says `reuse: always`. The key covers the template's version, the model,
 * every sampling parameter and the rendered prompt, and nothing else: not the caller, not `user`.
 */

const versions = new WeakMap<PromptTemplate, string>();

/** A hash of the template as configured: editing it (prompt, model, parameters) starts afresh. */
export function templateVersion(template: PromptTemplate): string {
  let version = versions.get(template);
  if (version === undefined) {
    const { name, prompt, model, parameters, variables, cache } = template;
    version = sha256(canonical({ name, prompt, model, parameters, variables, cache })).slice(0, 16);
    versions.set(template, version);
  }
  return version;
}

/** Seconds a result of this call may be reused; undefined when it must not be. */
export function reusableFor(template: PromptTemplate, wire: WireCompletionRequest): number | undefined {
  const policy = template.cache;
  if (policy === undefined) return undefined;
  if (policy.reuse === 'always' || wire.temperature === 0 || typeof wire.seed === 'number') {
    return policy.ttlSeconds;
  }
  return undefined;
}

/**
 * The SDL hint for a template field (`@cacheControl`, as Apollo Server and the Hive gateway's response
 * cache read it): its TTL when the template's own parameters make results reusable, PRIVATE since a
 * shared cache must not serve one client's answer to a caller it never authenticated. A caller's
 * overrides may still make one call unreusable; the response's Cache-Control says so per response.
 */
export function cacheControlHint(template: PromptTemplate): string {
  const policy = template.cache;
  if (policy === undefined) return '';
  const { temperature, seed } = template.parameters;
  if (policy.reuse !== 'always' && temperature !== 0 && typeof seed !== 'number') return '';
  return ` @cacheControl(maxAge: ${policy.ttlSeconds}, scope: PRIVATE)`;
}

/** `@cacheControl` and its scope enum, as Apollo defines them. */
export const cacheControlDefinitions = `
enum CacheControlScope {
  PUBLIC
  PRIVATE
}

directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean) on FIELD_DEFINITION | OBJECT | INTERFACE | UNION
`;

/**
 * The sampling part of a call, shared by all its prompts: the wire request without them, and the
 * client when the template's results are each client's own (`scope: client`).
 */
export function samplingKey(template: PromptTemplate, wire: WireCompletionRequest, client: string): string {
  const { prompt: _prompt, user: _user, stream: _stream, stream_options: _options, ...sampling } = wire;
  const owner = template.cache?.scope === 'client' ? JSON.stringify(client) : '*';
  return `${templateVersion(template)}:${owner}:${canonical(sampling)}`;
}

/**
 * One prompt's key under a call's sampling key. The prompt as JSON: two texts that differ only in
 * their lone surrogates (which UTF-8 turns alike into U+FFFD) reach the upstream as different
 * escapes, so they must not share a key.
 */
export function promptKey(sampling: string, prompt: string): string {
  return `prompt-cache:v2:${sha256(`${sampling}\u0000${JSON.stringify(prompt)}`)}`;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted, so the same parameters always give the same text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}
