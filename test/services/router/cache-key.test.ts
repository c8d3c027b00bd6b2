import { describe, expect, it } from 'vitest';
import { cacheKey, normalizedQuery } from '../../../services/router/cache-key.ts';

describe('normalizedQuery', () => {
  it('ignores parameter order and routing hints', () => {
    const a = normalizedQuery('GET', new URLSearchParams('q=kettle&size=5&region=eu-west'), undefined);
    const b = normalizedQuery('GET', new URLSearchParams('size=5&lat=1&lon=2&q=kettle'), undefined);
    expect(a).toBe(b);
    expect(a).toBe('GET ?q=kettle&size=5');
  });

  it('ignores key order in JSON bodies at every level, but not array order', () => {
    const a = normalizedQuery('POST', new URLSearchParams(), Buffer.from('{"query":"k","filters":{"b":1,"a":[2,1]}}'));
    const b = normalizedQuery('POST', new URLSearchParams(), Buffer.from('{ "filters": {"a":[2,1],"b":1}, "query":"k" }'));
    const c = normalizedQuery('POST', new URLSearchParams(), Buffer.from('{"query":"k","filters":{"b":1,"a":[1,2]}}'));
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(normalizedQuery('POST', new URLSearchParams(), undefined)).toBe(normalizedQuery('POST', new URLSearchParams(), Buffer.from('{}')));
  });

  it('keys GET and POST apart, under the prefix', () => {
    const key = cacheKey('p:', normalizedQuery('GET', new URLSearchParams('q=x'), undefined));
    expect(key).toMatch(/^p:q:[0-9a-f]{64}$/);
    expect(key).not.toBe(cacheKey('p:', normalizedQuery('POST', new URLSearchParams('q=x'), undefined)));
  });
});
