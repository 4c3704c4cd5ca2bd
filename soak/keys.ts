/**
 * The soak's API clients: two honest ones and a hostile one, each with its own random token, and
 * the `CLIENT_KEYS` entries (`name:sha256hex`) the service is started with. Made in the parent
 * only: the service gets the hashes, never the tokens.
 */
import { createHash, randomBytes } from 'node:crypto';

export interface SoakClient {
  name: string;
  token: string;
}

const make = (name: string): SoakClient => ({ name, token: `soak-${randomBytes(18).toString('base64url')}` });

export const honestClients: readonly SoakClient[] = [make('honest-a'), make('honest-b')];
export const hostileClient: SoakClient = make('hostile');

export const clientKeysEnv = [...honestClients, hostileClient]
  .map(({ name, token }) => `${name}:${createHash('sha256').update(token, 'utf8').digest('hex')}`)
  .join(',');

export const bearer = (client: SoakClient) => `Bearer ${client.token}`;

/**
 * Ids the honest clients stored (`store: true`), newest kept: the honest loops read their own back,
 * the hostile ones try to read them all.
 */
export class StoredIds {
  private readonly byClient = new Map<string, string[]>();
  private readonly all: string[] = [];
  private readonly keep = 2_000;

  add(client: string, id: string): void {
    const own = this.byClient.get(client) ?? [];
    this.byClient.set(client, own);
    for (const list of [own, this.all]) {
      list.push(id);
      if (list.length > this.keep) list.shift();
    }
  }

  /** A random id the client stored, or undefined when it stored none yet. */
  ownOf(client: string): string | undefined {
    return pick(this.byClient.get(client) ?? []);
  }

  /** `count` random ids of any honest client. */
  sample(count: number): string[] {
    if (this.all.length === 0) return [];
    return Array.from({ length: count }, () => pick(this.all) ?? '');
  }

  get size(): number {
    return this.all.length;
  }
}

function pick<T>(list: readonly T[]): T | undefined {
  return list[Math.floor(Math.random() * list.length)];
}
