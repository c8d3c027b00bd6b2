import { Agent } from 'node:http';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../core/logger.ts';
import { HealthProber } from '../../../services/router/health-prober.ts';
import type { ProbeResult } from '../../../services/router/health-prober.ts';

const good: ProbeResult = { ok: true, status: 'ok', freshness: { a: 10 }, maxFreshnessMs: 10, ms: 2 };
const bad: ProbeResult = { ok: false, status: 'unreachable', freshness: {}, maxFreshnessMs: null, ms: 1 };

describe('HealthProber thresholds', () => {
  it('decides at the first probe, then needs `fall` failures and `rise` successes in a row', () => {
    const changes: boolean[] = [];
    const p = new HealthProber({ region: 'r', host: '127.0.0.1', port: 1, settings: { intervalMs: 100, timeoutMs: 100, rise: 3, fall: 2 }, agent: new Agent(), log: silentLogger(), onChange: (h) => changes.push(h) });
    expect(p.state().healthy).toBeUndefined();
    p.record(good);
    expect(p.state().healthy).toBe(true);
    p.record(bad);
    p.record(good); // one lost probe: no flap
    p.record(bad);
    expect(p.state().healthy).toBe(true);
    p.record(bad);
    expect(p.state().healthy).toBe(false);
    p.record(good);
    p.record(good);
    p.record(bad);
    p.record(good);
    p.record(good);
    expect(p.state().healthy).toBe(false);
    p.record(good);
    expect(p.state().healthy).toBe(true);
    expect(changes).toEqual([false, true]);
    expect(p.state().freshness).toEqual({ a: 10 });
    expect(p.state().rttMs).toBeCloseTo(2);
  });
});
