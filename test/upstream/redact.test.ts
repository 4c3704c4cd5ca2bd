import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../src/redact.js';
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
});
