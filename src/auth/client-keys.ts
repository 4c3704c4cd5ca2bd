import { hash } from 'node:crypto';
import { type KeyPolicy, KeyPolicyError, parseKeyPolicy } from './key-policy.js';

/**
 * Client API keys, configured as SHA-256 hashes so the server never holds a usable token. A
 * request presents `Authorization: Bearer <token>`; its hash names the client.
 */

export interface ClientKeyEntry {
  name: string;
  /** Lower-case hex SHA-256 of the token. */
  sha256: string;
  /** Spend budgets and allowed models, when the entry names any. */
  policy?: KeyPolicy;
}

export interface Client {
  name: string;
}

/** The identity of callers when no keys are configured (the service runs open). */
export const anonymousClient: Client = Object.freeze({ name: 'anonymous' });

/** Once per request: the one-shot digest, a quarter of a Hash object's cost (Node ≥ 20.12). */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}

export class ClientKeyError extends Error {}

/**
 * Entries are `name:sha256hex`, optionally followed by space-separated policy attributes
 * (`budget=5usd/day soft-budget=1000000tokens/month models=a|b`), separated by commas or new
 * lines; blank lines and `#` comments are ignored, so the same text works in an environment
 * variable and in a file.
 */
export function parseClientKeys(text: string): ClientKeyEntry[] {
  const entries: ClientKeyEntry[] = [];
  // A name may have several keys (rotation), all with the same attributes: one client, one policy.
  const attributesOf = new Map<string, { name: string; attributes: string }>();
  const hashes = new Set<string>();
  for (const raw of text.split(/[\n,]/)) {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const [key = '', ...attributes] = line.split(/\s+/);
    const match = /^([\w.@-]{1,64}):([0-9a-fA-F]{64})$/.exec(key);
    if (!match?.[1] || !match[2]) {
      throw new ClientKeyError(
        'client keys must be "name:sha256hex" entries (a name of letters, digits, . _ @ -)',
      );
    }
    // Open mode's caller owns what was stored without keys: no key may take its name and read that.
    if (match[1].toLowerCase() === anonymousClient.name) {
      throw new ClientKeyError(`the client name "${anonymousClient.name}" is reserved for open mode`);
    }
    const name = match[1];
    const attributeText = attributes.join(' ');
    const seen = attributesOf.get(name.toLowerCase());
    if (seen !== undefined && seen.name !== name) {
      throw new ClientKeyError(`client names "${seen.name}" and "${name}" differ only in case`);
    }
    if (seen !== undefined && seen.attributes !== attributeText) {
      throw new ClientKeyError(
        `client ${name} has several keys with different budgets or models; give them the same, or other names`,
      );
    }
    attributesOf.set(name.toLowerCase(), { name, attributes: attributeText });
    const sha256 = match[2].toLowerCase();
    if (hashes.has(sha256)) throw new ClientKeyError(`client ${name}: this key is listed twice`);
    hashes.add(sha256);
    let policy: KeyPolicy | undefined;
    try {
      policy = parseKeyPolicy(attributes);
    } catch (error) {
      if (!(error instanceof KeyPolicyError)) throw error;
      throw new ClientKeyError(`client ${match[1]}: ${error.message}`);
    }
    entries.push({ name, sha256, ...(policy ? { policy } : {}) });
  }
  return entries;
}

export type Authentication = { ok: true; client: Client } | { ok: false; reason: 'missing' | 'invalid' };

export class ClientAuthenticator {
  private readonly byHash: Map<string, Client>;
  private readonly policies: Map<string, KeyPolicy>;

  constructor(entries: readonly ClientKeyEntry[]) {
    this.byHash = new Map(entries.map((entry) => [entry.sha256, Object.freeze({ name: entry.name })]));
    this.policies = new Map(entries.flatMap((entry) => (entry.policy ? [[entry.name, entry.policy]] : [])));
  }

  /** The key's budgets and allowed models, when it has any. */
  policyOf(clientName: string): KeyPolicy | undefined {
    return this.policies.get(clientName);
  }

  /** With no keys configured, every caller is the anonymous client. */
  get required(): boolean {
    return this.byHash.size > 0;
  }

  authenticate(authorization: string | null | undefined): Authentication {
    if (!this.required) return { ok: true, client: anonymousClient };
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) return { ok: false, reason: 'missing' };
    // Looking up the hash, not the token, leaves no timing signal about stored tokens.
    const client = this.byHash.get(hashToken(token));
    return client === undefined ? { ok: false, reason: 'invalid' } : { ok: true, client };
  }
}
