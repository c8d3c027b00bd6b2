import { describe, expect, it } from 'vitest';
import { parseOptions } from '../../../bench/freshness/options.ts';

describe('bench:freshness options', () => {
  it('defaults to exactly-once replication and a warm-up decided by the run', () => {
    const o = parseOptions([]);
    expect(o.replicationMode).toBe('exactly-once');
    expect(o.jvmWarmupSeconds).toBeUndefined();
  });

  it('takes the replication mode and an explicit JVM warm-up, 0 included', () => {
    const o = parseOptions(['--replication-mode', 'at-least-once', '--jvm-warmup-seconds', '0']);
    expect(o.replicationMode).toBe('at-least-once');
    expect(o.jvmWarmupSeconds).toBe(0);
    expect(parseOptions(['--jvm-warmup-seconds', '120']).jvmWarmupSeconds).toBe(120);
  });

  it('names the flag and the value it refuses', () => {
    expect(() => parseOptions(['--replication-mode', 'twice'])).toThrow('--replication-mode: expected exactly-once or at-least-once, got "twice"');
    expect(() => parseOptions(['--jvm-warmup-seconds=-5'])).toThrow('--jvm-warmup-seconds: expected an integer >= 0, got "-5"');
  });
});
