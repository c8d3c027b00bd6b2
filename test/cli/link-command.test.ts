import { describe, expect, it } from 'vitest';
import { changeOf } from '../../cli/link-command.ts';

describe('georeplica link options', () => {
  it('combines options into one change, with --for as the proxy-side expiry', () => {
    expect(changeOf({ blackhole: true, latency: '200', for: '1m30s' })).toEqual({ blackhole: true, latencyMs: 200, expiresInMs: 90_000 });
    expect(changeOf({ heal: true })).toEqual({ blackhole: false, reset: false });
    expect(changeOf({ clear: true })).toBe('clear');
    expect(changeOf({})).toBeUndefined();
  });

  it('refuses --for without a change, with --clear, or when it is not a duration, saying what to give', () => {
    expect(() => changeOf({ for: '60s' })).toThrow('--for says when a change heals itself; give it with a change, e.g. --blackhole --for 60s.');
    expect(() => changeOf({ clear: true, for: '60s' })).toThrow('--clear goes back to the baseline and cannot be combined');
    expect(() => changeOf({ blackhole: true, for: 'soon' })).toThrow('--for: got "soon"; expected a duration from 1ms to 24h');
  });
});
