import { describe, expect, it } from 'vitest';
import { shownUrl } from '../../src/routing/provider-factory.js';

describe('the upstream URL in the start line', () => {
  it('keeps origin and path, never credentials or a query (some gateways take keys there)', () => {
    expect(shownUrl('http://user:BASEpw123@127.0.0.1:45965/v1?api-key=QUERYsecret999')).toBe(
      'http://127.0.0.1:45965/v1',
    );
    expect(shownUrl('https://api.openai.com/v1')).toBe('https://api.openai.com/v1');
    expect(shownUrl('not a url')).toBe('(an unreadable URL)');
  });
});
