import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../src/upstream/redact.js';
import { recorded } from '../helpers/recorded.js';

describe('redactSecrets', () => {
  const key = 'sk-proj-AbCdEf0123456789XyZwvu';

  it('removes the exact key, its visible ends and anything key-shaped', () => {
    const text = `key ${key}, start sk-proj-, prefix ${key.slice(0, 8)}…, end …${key.slice(-6)}, other sk-live-123456`;
    const out = redactSecrets(text, [key]);
    expect(out).not.toContain(key);
    expect(out).not.toContain(key.slice(0, 8));
    expect(out).not.toContain(key.slice(-6));
    expect(out).not.toContain('sk-live-123456');
  });

  it('removes another key that shares our key’s public prefix whole, not just that prefix', () => {
    const out = redactSecrets('Incorrect API key provided: sk-proj-CLIENTsecretBBBB0123 (401)', [key]);
    expect(out).toBe('Incorrect API key provided: [redacted] (401)');
  });

  it('takes only the password of a URL given as a secret: its host, user and path are ordinary words', () => {
    const databaseUrl = 'postgres://service:pa55-w0rd-xyz@db.internal:5432/completions';
    expect(redactSecrets('POST /v1/completions on db.internal', [databaseUrl])).toBe(
      'POST /v1/completions on db.internal',
    );
    expect(redactSecrets('auth failed for pa55-w0rd-xyz', [databaseUrl])).toBe('auth failed for [redacted]');
  });

  it('removes credentials other services issue: Stripe, GitHub, AWS, Slack, JWTs', () => {
    const credentials = [
      'sk_live_51HxAbCdEfGhIjKlMn',
      'ghp_0123456789abcdefghijABCDEFGHIJ',
      'github_pat_11ABCDEFG0123456789_abcdefghij',
      'AKIAIOSFODNN7EXAMPLE',
      'xoxb-1234567890-abcdefghij',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    ];
    for (const credential of credentials) {
      expect(redactSecrets(`failed with ${credential} here`, [])).toBe('failed with [redacted] here');
    }
    expect(redactSecrets('AKIA alone, ghp_short, eyJ not a token', [])).toBe(
      'AKIA alone, ghp_short, eyJ not a token',
    );
  });

  it('removes the masked key fragment OpenAI echoes in its 401', () => {
    const message = JSON.parse(recorded('openai-error-401-invalid-api-key.json')).error.message as string;
    const out = redactSecrets(message, []);
    expect(out).not.toMatch(/sk-wrong|\*\*\*\*/);
    expect(out).toContain('Incorrect API key provided');
  });

  it('removes bearer tokens and leaves ordinary text alone', () => {
    expect(redactSecrets('Authorization: Bearer abc.def-ghi', [])).toBe('Authorization: Bearer [redacted]');
    expect(redactSecrets('The model `x` does not exist', [key])).toBe('The model `x` does not exist');
  });

  it('removes every non-space run holding a mask, and only those', () => {
    expect(redactSecrets('key ab****cd, again x***y; and a*b**c stays', [])).toBe(
      'key [redacted] again [redacted] and a*b**c stays',
    );
    expect(redactSecrets('tab\tk***y\nnext', [])).toBe('tab\t[redacted]\nnext');
  });
});

describe('redactSecrets on 1 MB inputs of the shapes that backtrack', () => {
  // Each of these took quadratic time with `\S*\*{3,}\S*` (~10^12 steps: it never finished).
  const mb = 1024 * 1024;

  it('a long run of non-space without a mask is left alone', () => {
    const text = 'a'.repeat(mb);
    expect(redactSecrets(text, [])).toBe(text);
  });

  it('a long run of non-space with a mask at its end goes whole', () => {
    expect(redactSecrets(`${'a'.repeat(mb)}***`, [])).toBe('[redacted]');
  });

  it('stars in pairs (never three) over a long run are left alone', () => {
    const text = 'a**'.repeat(mb / 3);
    expect(redactSecrets(text, [])).toBe(text);
  });

  it('many masked words, key-shaped words and bearer tokens', () => {
    const times = Math.floor(mb / 51);
    const text = 'sk-abc****wxyz Bearer abc.def sk-live-123456 plain '.repeat(times);
    const out = redactSecrets(text, []);
    expect(out).not.toMatch(/\*\*\*|sk-|abc\.def/);
    expect(out.split('plain')).toHaveLength(times + 1);
  });

  it('"Bearer" followed by a long run of spaces', () => {
    const text = `Bearer${' '.repeat(mb)}!`;
    expect(redactSecrets(text, [])).toBe(text);
  });
});
