import { describe, expect, it } from 'vitest';
import {
  ClientAuthenticator,
  ClientKeyError,
  hashToken,
  parseClientKeys,
} from '../../src/auth/client-keys.js';

describe('parseClientKeys', () => {
  const hash = hashToken('ck-test');
  const other = hashToken('ck-other');

  it('reads entries from a variable or a file', () => {
    expect(parseClientKeys(`alice:${hash}, # comment\nbob:${other.toUpperCase()}\n`)).toEqual([
      { name: 'alice', sha256: hash },
      { name: 'bob', sha256: other },
    ]);
  });

  it('reserves the open-mode name, whose records no key may read', () => {
    expect(() => parseClientKeys(`anonymous:${hash}`)).toThrow(ClientKeyError);
    expect(() => parseClientKeys(`Anonymous:${hash}`)).toThrow(/reserved/);
  });

  it('lets a client have several keys (rotation) with the same attributes, and both authenticate as it', () => {
    const keys = new ClientAuthenticator(
      parseClientKeys(`team:${hash} budget=1usd/day\nteam:${other} budget=1usd/day`),
    );
    expect(keys.authenticate('Bearer ck-test')).toEqual({ ok: true, client: { name: 'team' } });
    expect(keys.authenticate('Bearer ck-other')).toEqual({ ok: true, client: { name: 'team' } });
  });

  it('refuses one name with different budgets (the last would silently win), or names differing in case', () => {
    expect(() => parseClientKeys(`team:${hash} budget=1usd/day\nteam:${other} budget=1000usd/day`)).toThrow(
      /several keys with different budgets/,
    );
    expect(() => parseClientKeys(`team:${hash}\nTeam:${other}`)).toThrow(/differ only in case/);
  });

  it('refuses one key under two names (it would authenticate as only one of them)', () => {
    expect(() => parseClientKeys(`alice:${hash}\nbob:${hash.toUpperCase()}`)).toThrow(/listed twice/);
  });
});
