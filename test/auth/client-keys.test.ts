import { describe, expect, it } from 'vitest';
import { ClientKeyError, hashToken, parseClientKeys } from '../../src/auth/client-keys.js';

describe('parseClientKeys', () => {
  const hash = hashToken('ck-test');

  it('reads entries from a variable or a file', () => {
    expect(parseClientKeys(`alice:${hash}, # comment\nbob:${hash.toUpperCase()}\n`)).toEqual([
      { name: 'alice', sha256: hash },
      { name: 'bob', sha256: hash },
    ]);
  });

  it('reserves the open-mode name, whose records no key may read', () => {
    expect(() => parseClientKeys(`anonymous:${hash}`)).toThrow(ClientKeyError);
    expect(() => parseClientKeys(`Anonymous:${hash}`)).toThrow(/reserved/);
  });
});
